{{ current_state('bmo', 'clause_heures') }}
