{{ current_state('reg53', 'stagiaires') }}
