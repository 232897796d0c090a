{#-
  Every episode of every person, one shape for all sources: RSA spells, PDI actions, Région
  training enrolments, PLIE pathways and PLIE steps. End is null while the episode is open.
  PLIE steps carry no pseudonym: they belong to the person of their pathway.
-#}
{%- set departements = [] -%}{%- set metropoles = [] -%}
{%- for source, entities in var('source_entities').items() -%}
  {%- if 'brsa' in entities %}{% do departements.append(source) %}{% endif -%}
  {%- if 'plie_participants' in entities %}{% do metropoles.append(source) %}{% endif -%}
{%- endfor -%}

with keys as (
    select collectivite, entite, record_id, person_id from {{ ref('int_person_keys') }}
),

raw_episodes as (
{% for source in departements %}
    select
        collectivite, 'brsa' as entite, dossier_id as record_id, 'RSA' as code_local,
        date_ouverture_droit as date_debut, date_fin_droit as date_fin, motif_fin_droit as motif_sortie,
        cast(null as boolean) as cofinancement_fse, cast(null as varchar) as code_operation_fse,
        cast(null as varchar) as code_action, cast(null as varchar) as statut_entree,
        cast(null as varchar[]) as publics_declares, cast(null as varchar) as episode_parent_record_id
    from {{ ref('stg_' ~ source ~ '__brsa') }}
    union all
    select
        collectivite, 'actions', participation_id, famille_action,
        date_entree, date_sortie, motif_sortie, cofinancement_fse, code_operation_fse,
        code_action, null, null, null
    from {{ ref('stg_' ~ source ~ '__actions') }}
    union all
{% endfor %}
    select
        collectivite, 'stagiaires', inscription_id, dispositif,
        date_entree, date_sortie, resultat,
        len(list_filter(financements, lambda f: f.financeur = 'FSE')) > 0,
        list_filter(financements, lambda f: f.financeur = 'FSE')[1].code_operation_fse,
        null, statut_entree, null, null
    from {{ ref('stg_reg53__stagiaires') }}
{% for source in metropoles %}
    union all
    select
        collectivite, 'plie_participants', participant_id, 'PLIE',
        date_entree, date_sortie, motif_sortie, cofinancement_fse, code_operation_fse,
        null, null, publics, null
    from {{ ref('stg_' ~ source ~ '__plie_participants') }}
    union all
    select
        collectivite, 'plie_etapes', etape_id, type_etape,
        date_debut, date_fin, null, null, null,
        null, null, null, participant_id
    from {{ ref('stg_' ~ source ~ '__plie_etapes') }}
{% endfor %}
)

select
    e.collectivite || ':' || e.entite || ':' || e.record_id as episode_id,
    coalesce(k.person_id, parent.person_id) as person_id,
    e.collectivite,
    e.entite,
    e.record_id,
    d.dispositif,
    d.famille_dispositif,
    e.code_local,
    e.code_action,
    e.date_debut,
    e.date_fin,
    e.motif_sortie,
    m.categorie_sortie,
    coalesce(e.cofinancement_fse, false) as cofinancement_fse,
    e.code_operation_fse,
    e.statut_entree,
    e.publics_declares,
    case when e.entite = 'plie_etapes' then e.code_local end as type_etape,
    case when e.episode_parent_record_id is not null
        then e.collectivite || ':plie_participants:' || e.episode_parent_record_id end as episode_parent_id
from raw_episodes as e
left join keys as k
    on e.collectivite = k.collectivite and e.entite = k.entite and e.record_id = k.record_id
left join keys as parent
    on e.entite = 'plie_etapes' and parent.entite = 'plie_participants'
    and e.collectivite = parent.collectivite and e.episode_parent_record_id = parent.record_id
left join {{ ref('dispositifs') }} as d on e.entite = d.entite and e.code_local = d.code_local
left join {{ ref('motifs_sortie') }} as m on e.motif_sortie = m.motif_sortie
-- A PLIE step whose pathway is no longer in the latest snapshot (deleted at the source) has no
-- person: it is left out here and counted in the linkage report.
where not (e.entite = 'plie_etapes' and parent.person_id is null)
