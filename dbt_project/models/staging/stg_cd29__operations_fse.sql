{{ current_state('cd29', 'operations_fse') }}
