{{ current_state('cd35', 'operations_fse') }}
