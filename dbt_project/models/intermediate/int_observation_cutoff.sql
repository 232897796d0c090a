{#-
  Observation cut-off. Each source's latest extract date is the most recent `date_extraction`
  of its staging models; the cut-off of a set of sources is the oldest of their latest extract
  dates. One row per collectivité (the cut-off of that source alone) and one row `TOUTES` (the
  global cut-off, used whenever a definition may involve any source).
-#}
{%- set parts = [] -%}
{%- for source, entities in var('source_entities').items() -%}
  {%- for entity in entities -%}
    {%- do parts.append((source, entity)) -%}
  {%- endfor -%}
{%- endfor -%}

with extract_dates as (
{% for source, entity in parts %}
    select '{{ source }}' as collectivite, max(date_extraction) as date_extraction
    from {{ ref('stg_' ~ source ~ '__' ~ entity) }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
),

-- A source with no landed extract yet has no latest extract date: it is left out.
latest_extract_per_source as (
    select collectivite, max(date_extraction) as date_derniere_extraction
    from extract_dates
    group by collectivite
    having max(date_extraction) is not null
)

select
    'COLLECTIVITE' as perimetre,
    collectivite,
    date_derniere_extraction,
    date_derniere_extraction as date_coupure
from latest_extract_per_source

union all

select
    'GLOBAL' as perimetre,
    'TOUTES' as collectivite,
    max(date_derniere_extraction) as date_derniere_extraction,
    min(date_derniere_extraction) as date_coupure
from latest_extract_per_source
