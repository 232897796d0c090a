{{ current_state('reg53', 'aides_formation') }}
