{#
  Current state of a source's records: the version in the latest landed extract of that source.
  Extracts are full snapshots, so a record absent from the latest one was deleted at the source;
  an older extract landed late never wins (it is not the latest extract date).
  Lineage columns are renamed (French names, as everywhere an analyst reads).
#}
{% macro current_state(source_code, entity) %}
with landed as (
    select * from {{ source('raw_' ~ source_code, entity) }}
),

latest as (
    select max(_extract_date) as extract_date from landed
)

select
    landed.* exclude (_source, _entity, _extract_date, _file, _file_sha256, _line, _load_id),
    '{{ source_code }}' as collectivite,
    landed._extract_date as date_extraction,
    landed._load_id as id_chargement,
    landed._file as fichier,
    landed._line as ligne
from landed
inner join latest on landed._extract_date = latest.extract_date
{% endmacro %}
