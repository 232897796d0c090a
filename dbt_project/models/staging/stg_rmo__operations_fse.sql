{{ current_state('rmo', 'operations_fse') }}
