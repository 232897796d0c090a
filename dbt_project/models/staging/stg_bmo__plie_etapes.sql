{{ current_state('bmo', 'plie_etapes') }}
