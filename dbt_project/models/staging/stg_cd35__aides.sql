{{ current_state('cd35', 'aides') }}
