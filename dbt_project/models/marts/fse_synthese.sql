{#-
  European Social Fund summary per collectivité x shared dispositif x programme x calendar year.

  - Participants of a year: participants (person x operation, as in fse_operations) whose first
    entry into the operation falls in that year (ESF convention: a participant is counted once,
    at entry).
  - Eligible cost and ESF amount of a year: each operation's amounts spread over its running days
    (date_debut to date_fin, both inclusive), the year taking the share of the operation's days
    it contains. The ESF rate is the ratio of the summed amounts; cost (ESF) per participant the
    year's amount over the year's participants.
  - Years: from 2018 (the exchange holds activity from then on) to the collectivité's cut-off;
    a year ending after the cut-off is censored and not published.
-#}
{%- set first_year = var('annee_debut_observation', 2018) -%}

with operations as (
    select
        collectivite, code_operation, programme, coalesce(dispositif, 'INCONNU') as dispositif,
        date_debut, date_fin, cout_total_eligible, montant_fse, date_coupure
    from {{ ref('fse_operations') }}
    where date_fin >= date_debut
),

operation_years as (
    select
        o.*,
        cast(y.annee as integer) as annee,
        -- Running days of the operation in the year, and in all.
        least(o.date_fin, make_date(cast(y.annee as integer), 12, 31))
            - greatest(o.date_debut, make_date(cast(y.annee as integer), 1, 1)) + 1 as jours_annee,
        o.date_fin - o.date_debut + 1 as jours_operation
    from operations as o
    cross join generate_series(
        greatest({{ first_year }}, extract(year from o.date_debut)),
        least(extract(year from o.date_fin), extract(year from o.date_coupure))
    ) as y(annee)
    where make_date(cast(y.annee as integer), 12, 31) <= o.date_coupure
),

participant_entries as (
    select
        collectivite,
        code_operation_fse as code_operation,
        person_id,
        cast(extract(year from min(date_debut)) as integer) as annee_entree
    from {{ ref('int_episodes') }}
    where code_operation_fse is not null
    group by collectivite, code_operation_fse, person_id
),

entries_per_operation_year as (
    select collectivite, code_operation, annee_entree as annee, count(*) as participants
    from participant_entries
    group by collectivite, code_operation, annee_entree
),

summary as (
    select
        y.collectivite,
        y.dispositif,
        y.programme,
        y.annee,
        count(*) as operations,
        coalesce(sum(e.participants), 0) as participants,
        sum(y.cout_total_eligible * y.jours_annee / y.jours_operation) as cout_total_eligible,
        sum(y.montant_fse * y.jours_annee / y.jours_operation) as montant_fse
    from operation_years as y
    left join entries_per_operation_year as e
        on y.collectivite = e.collectivite and y.code_operation = e.code_operation and y.annee = e.annee
    group by y.collectivite, y.dispositif, y.programme, y.annee
)

select
    md5(concat_ws('|', collectivite, dispositif, programme, annee)) as id_ligne,
    collectivite,
    dispositif,
    programme,
    annee,
    operations,
    participants,
    cout_total_eligible,
    montant_fse,
    case when cout_total_eligible > 0 then montant_fse / cout_total_eligible end as taux_fse,
    case when participants > 0 then cout_total_eligible / participants end as cout_par_participant,
    case when participants > 0 then montant_fse / participants end as fse_par_participant
from summary
