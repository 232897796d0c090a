{{ current_state('cd56', 'brsa') }}
