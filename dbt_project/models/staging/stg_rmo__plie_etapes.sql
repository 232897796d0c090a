{{ current_state('rmo', 'plie_etapes') }}
