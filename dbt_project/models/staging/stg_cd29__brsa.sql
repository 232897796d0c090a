{{ current_state('cd29', 'brsa') }}
