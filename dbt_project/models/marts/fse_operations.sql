{#-
  European Social Fund operations, one row per operation (collectivité x code_operation), with
  their participants and financial ratios.

  - A participant is a person (person_id) with at least one participation tied to the operation
    by its operation code (ESF convention: a person who enters the same operation again is one
    participant; entering another operation makes a new participant).
  - ESF rate = ESF amount / total eligible cost; cost (ESF) per participant = total eligible cost
    (ESF amount) / participants.
  - The exchange only holds participations with activity on or after 2018-01-01, and the latest
    extract stops at the collectivité's cut-off: participants are complete only for an operation
    running within [2018-01-01, cut-off]. Otherwise its window is censored and the per-participant
    amounts are left empty (`participants` is then the count observed so far).
  - Shared dispositif: the Région's and métropoles' `dispositif_local` is a code of the dispositif
    catalogue; a département's is one of its catalogue actions, whose dispositif is the one of
    that action's participations (family of the action).
-#}
{%- set first_year = var('annee_debut_observation', 2018) -%}

with operations as (
{% for source in var('source_entities') %}
    select
        collectivite, code_operation, intitule, programme, date_debut, date_fin,
        cout_total_eligible, montant_fse, dispositif_local
    from {{ ref('stg_' ~ source ~ '__operations_fse') }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
),

cutoffs as (
    select collectivite, date_coupure
    from {{ ref('int_observation_cutoff') }}
    where perimetre = 'COLLECTIVITE'
),

episodes as (
    select * from {{ ref('int_episodes') }}
),

-- Départements: the dispositif of a catalogue action, from its participations.
action_dispositifs as (
    select collectivite, code_action, mode(dispositif) as dispositif
    from episodes
    where entite = 'actions' and code_action is not null
    group by collectivite, code_action
),

catalogue_dispositifs as (
    select code_local, dispositif
    from {{ ref('dispositifs') }}
    where entite in ('stagiaires', 'plie_participants')
),

participants as (
    select collectivite, code_operation_fse as code_operation, person_id, min(date_debut) as date_entree
    from episodes
    where code_operation_fse is not null
    group by collectivite, code_operation_fse, person_id
),

participants_per_operation as (
    select collectivite, code_operation, count(*) as participants
    from participants
    group by collectivite, code_operation
),

operations_with_participants as (
    select
        o.*,
        coalesce(a.dispositif, d.dispositif) as dispositif,
        coalesce(p.participants, 0) as participants,
        c.date_coupure,
        o.date_debut >= make_date({{ first_year }}, 1, 1) and o.date_fin <= c.date_coupure as fenetre_observee
    from operations as o
    left join action_dispositifs as a
        on o.collectivite = a.collectivite and o.dispositif_local = a.code_action
    left join catalogue_dispositifs as d on o.dispositif_local = d.code_local
    left join participants_per_operation as p
        on o.collectivite = p.collectivite and o.code_operation = p.code_operation
    left join cutoffs as c on o.collectivite = c.collectivite
)

select
    md5(collectivite || '|' || code_operation) as id_operation,
    collectivite,
    code_operation,
    intitule,
    programme,
    dispositif_local,
    dispositif,
    date_debut,
    date_fin,
    date_coupure,
    coalesce(fenetre_observee, false) as fenetre_observee,
    participants,
    cout_total_eligible,
    montant_fse,
    case when cout_total_eligible > 0 then montant_fse / cout_total_eligible end as taux_fse,
    case when fenetre_observee and participants > 0
        then cout_total_eligible / participants end as cout_par_participant,
    case when fenetre_observee and participants > 0
        then montant_fse / participants end as fse_par_participant
from operations_with_participants
