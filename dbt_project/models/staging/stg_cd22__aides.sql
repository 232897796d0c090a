{{ current_state('cd22', 'aides') }}
