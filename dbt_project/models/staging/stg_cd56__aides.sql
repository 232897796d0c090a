{{ current_state('cd56', 'aides') }}
