{{ current_state('rmo', 'clause_heures') }}
