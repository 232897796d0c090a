{{ current_state('cd29', 'actions') }}
