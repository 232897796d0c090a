{#- Linkage report: how records became persons (one row; counts only, nothing personal). -#}
with keys as (
    select * from {{ ref('int_person_keys') }}
),

persons as (
    select * from {{ ref('int_persons') }}
),

orphan_steps as (
    {%- for source, entities in var('source_entities').items() if 'plie_etapes' in entities %}
    select s.etape_id
    from {{ ref('stg_' ~ source ~ '__plie_etapes') }} as s
    left join {{ ref('stg_' ~ source ~ '__plie_participants') }} as p on s.participant_id = p.participant_id
    where p.participant_id is null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

ambiguous as (
    select count(distinct pseudo_ec) as cles_ec_ambigues, count(*) as enregistrements_cle_ec_ambigue
    from keys
    where pseudo_ec_ambigu
)

select
    (select count(*) from keys) as enregistrements,
    (select count(*) from persons) as personnes,
    (select count(*) from persons where nb_collectivites >= 2) as personnes_connues_2_collectivites_ou_plus,
    (select count(*) from keys where pseudo_nir is not null) as enregistrements_avec_pseudo_nir,
    (select count(*) from keys where pseudo_nir is null) as enregistrements_sans_pseudo_nir,
    ambiguous.cles_ec_ambigues,
    ambiguous.enregistrements_cle_ec_ambigue,
    (select count(*) from orphan_steps) as etapes_plie_sans_parcours
from ambiguous
