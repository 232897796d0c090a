{{ current_state('rmo', 'plie_participants') }}
