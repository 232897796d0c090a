{{ current_state('cd22', 'operations_fse') }}
