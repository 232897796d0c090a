{{ current_state('cd29', 'aides') }}
