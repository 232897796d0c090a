{{ current_state('cd56', 'actions') }}
