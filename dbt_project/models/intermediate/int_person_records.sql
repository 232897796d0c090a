{#- Every person-level record of every source, with the pseudonyms and attributes it carries. -#}
{%- set entities = var('person_entities') -%}
{%- set parts = [] -%}
{%- for source, source_entities in var('source_entities').items() -%}
  {%- for entity in source_entities if entity in entities -%}
    {%- do parts.append((source, entity, entities[entity])) -%}
  {%- endfor -%}
{%- endfor -%}

{% for source, entity, spec in parts %}
select
    '{{ source }}' as collectivite,
    '{{ entity }}' as entite,
    cast({{ spec.record_id }} as varchar) as record_id,
    pseudo_nir,
    pseudo_ec,
    cast({{ spec.date }} as date) as date_reference,
    {% if spec.attributes -%}
    sexe,
    mois_naissance,
    commune_insee,
    {{ 'niveau_diplome' if entity != 'decrocheurs' else 'cast(null as varchar)' }} as niveau_diplome
    {%- else -%}
    cast(null as varchar) as sexe,
    cast(null as date) as mois_naissance,
    cast(null as varchar) as commune_insee,
    cast(null as varchar) as niveau_diplome
    {%- endif %}
from {{ ref('stg_' ~ source ~ '__' ~ entity) }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
