{{ current_state('cd35', 'brsa') }}
