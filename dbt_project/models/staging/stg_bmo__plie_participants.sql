{{ current_state('bmo', 'plie_participants') }}
