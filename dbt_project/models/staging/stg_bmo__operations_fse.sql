{{ current_state('bmo', 'operations_fse') }}
