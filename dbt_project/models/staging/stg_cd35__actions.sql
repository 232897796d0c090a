{{ current_state('cd35', 'actions') }}
