{{ current_state('cd22', 'actions') }}
