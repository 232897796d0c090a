{#- Events have a date only: aid decisions, PSAD tracking, social-clause hours (per month). -#}
{%- set departements = [] -%}{%- set metropoles = [] -%}
{%- for source, entities in var('source_entities').items() -%}
  {%- if 'aides' in entities %}{% do departements.append(source) %}{% endif -%}
  {%- if 'clause_heures' in entities %}{% do metropoles.append(source) %}{% endif -%}
{%- endfor -%}

with raw_events as (
{% for source in departements %}
    select collectivite, 'aides' as entite, aide_id as record_id, type_aide as code_local,
        date_decision as date_evenement, montant, cast(null as double) as heures,
        cast(null as varchar) as detail
    from {{ ref('stg_' ~ source ~ '__aides') }}
    union all
{% endfor %}
    select collectivite, 'aides_formation', aide_id, type_aide, date_decision, montant, null, inscription_id
    from {{ ref('stg_reg53__aides_formation') }}
    union all
    select collectivite, 'decrocheurs', signalement_id, 'PSAD', date_reperage, null, null, plateforme
    from {{ ref('stg_reg53__decrocheurs') }}
{% for source in metropoles %}
    union all
    select collectivite, 'clause_heures', ligne_id, 'CLAUSE_SOCIALE', mois, null, heures, marche_id
    from {{ ref('stg_' ~ source ~ '__clause_heures') }}
{% endfor %}
)

select
    e.collectivite || ':' || e.entite || ':' || e.record_id as event_id,
    k.person_id,
    e.collectivite,
    e.entite,
    e.record_id,
    d.dispositif,
    d.famille_dispositif,
    e.code_local,
    e.date_evenement,
    e.montant,
    e.heures,
    e.detail
from raw_events as e
left join {{ ref('int_person_keys') }} as k
    on e.collectivite = k.collectivite and e.entite = k.entite and e.record_id = k.record_id
left join {{ ref('dispositifs') }} as d on e.entite = d.entite and e.code_local = d.code_local
