{{ current_state('reg53', 'operations_fse') }}
