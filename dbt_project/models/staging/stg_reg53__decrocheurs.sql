{{ current_state('reg53', 'decrocheurs') }}
