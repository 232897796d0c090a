{{ current_state('cd56', 'operations_fse') }}
