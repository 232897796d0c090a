{{ current_state('cd22', 'brsa') }}
