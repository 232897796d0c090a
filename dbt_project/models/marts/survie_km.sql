{#-
  Kaplan–Meier survival per cohort (dispositif, collectivité, entry year and quarter, public)
  and event, with a 95 % Greenwood confidence interval.
  - SORTIE_RSA (RSA cohorts): time from the RSA spell's opening to its end. The end is an event
    unless its motif is DEMENAGEMENT or DECES (censored at the end date); a spell still open at
    the cut-off of its Département is censored at that cut-off.
  - PREMIER_EMPLOI (every cohort): time from entry to the first date after entry when the
    situation (macro situation_at) is EMPLOI, censored at the global cut-off. The situation can
    only turn to EMPLOI on the day after entry, at the start of a PLIE employment step, on the
    first day of a month with social-clause hours or the day after an exit with an employment
    outcome: the situation is evaluated at those candidate dates only.
  One row per time (in days) with events or censorings: at risk n, events d, censored c,
  S(t) = prod over t_j <= t of (1 - d_j / n_j), Greenwood variance
  S(t)^2 * sum d_j / (n_j (n_j - d_j)), interval S ± 1.96 sd clipped to [0, 1]. Where S(t) = 0
  the Greenwood variance is undefined: variance and interval are left empty.
  Estimates are rounded to 10 decimals.
-#}
with cohort_entries as (
    select
        episode_id as episode_entree_id,
        person_id,
        dispositif,
        collectivite,
        annee_entree,
        trimestre_entree,
        date_debut as date_entree,
        date_fin,
        motif_sortie,
        public_brsa,
        public_jsq
    from {{ ref('int_episode_context') }}
    where entree_cohorte
),

cutoffs as (
    select perimetre, collectivite, date_coupure from {{ ref('int_observation_cutoff') }}
),

-- RSA exit: the entry spell's end, or censoring (move, death, open at the Département's cut-off).
rsa_exit_subjects as (
    select
        e.*,
        'SORTIE_RSA' as evenement,
        case
            when e.date_fin is not null and e.date_fin <= c.date_coupure then e.date_fin - e.date_entree
            else c.date_coupure - e.date_entree
        end as duree_jours,
        case
            when e.date_fin is not null and e.date_fin <= c.date_coupure
                and coalesce(e.motif_sortie not in ('DEMENAGEMENT', 'DECES'), true) then 1
            else 0
        end as est_evenement
    from cohort_entries as e
    inner join cutoffs as c on c.perimetre = 'COLLECTIVITE' and e.collectivite = c.collectivite
    where e.dispositif = 'RSA' and e.date_entree <= c.date_coupure
),

global_cutoff as (
    select date_coupure from cutoffs where perimetre = 'GLOBAL'
),

employment_episodes as (
    select person_id, date_debut, date_fin, categorie_sortie, dispositif
    from {{ ref('int_episodes') }}
    where dispositif in (
            'PLIE_ETAPE_EMPLOI_IAE', 'PLIE_ETAPE_CONTRAT_AIDE',
            'PLIE_ETAPE_CDD_MOINS_6M', 'PLIE_ETAPE_CLAUSE_SOCIALE'
        )
        or categorie_sortie in ('EMPLOI_DURABLE', 'EMPLOI_TRANSITION')
),

-- Dates at which a person's situation may turn to EMPLOI (from the employment sources).
employment_start_dates as (
    select person_id, date_debut as date_candidate
    from employment_episodes
    where dispositif like 'PLIE_ETAPE_%'
    union
    select person_id, date_fin + 1
    from employment_episodes
    where categorie_sortie in ('EMPLOI_DURABLE', 'EMPLOI_TRANSITION') and date_fin is not null
    union
    select person_id, date_evenement
    from {{ ref('int_events') }}
    where dispositif = 'CLAUSE_SOCIALE' and heures > 0
),

candidate_dates as (
    select distinct e.person_id, e.episode_entree_id, e.date_entree + 1 as date_situation
    from cohort_entries as e
    union
    select e.person_id, e.episode_entree_id, d.date_candidate
    from cohort_entries as e
    inner join employment_start_dates as d
        on e.person_id = d.person_id and d.date_candidate > e.date_entree
),

observed_candidate_dates as (
    select d.person_id, d.episode_entree_id, d.date_situation
    from candidate_dates as d
    cross join global_cutoff as c
    where d.date_situation <= c.date_coupure
),

situations_at_candidates as (
    {{ situation_at('observed_candidate_dates') }}
),

first_employment_dates as (
    select d.episode_entree_id, min(d.date_situation) as date_premier_emploi
    from observed_candidate_dates as d
    inner join situations_at_candidates as s
        on d.person_id = s.person_id and d.date_situation = s.date_situation
    where s.situation = 'EMPLOI'
    group by d.episode_entree_id
),

first_employment_subjects as (
    select
        e.*,
        'PREMIER_EMPLOI' as evenement,
        coalesce(f.date_premier_emploi, c.date_coupure) - e.date_entree as duree_jours,
        case when f.date_premier_emploi is not null then 1 else 0 end as est_evenement
    from cohort_entries as e
    cross join global_cutoff as c
    left join first_employment_dates as f on e.episode_entree_id = f.episode_entree_id
    where e.date_entree <= c.date_coupure
),

subjects as (
    select * from rsa_exit_subjects
    union all
    select * from first_employment_subjects
),

-- One row per public the subject belongs to.
subjects_by_public as (
    select *, 'TOUS' as public from subjects
    union all
    select *, 'BRSA' as public from subjects where public_brsa
    union all
    select *, 'JSQ' as public from subjects where public_jsq
),

event_times as (
    select
        dispositif, collectivite, annee_entree, trimestre_entree, public, evenement, duree_jours,
        sum(est_evenement) as evenements,
        sum(1 - est_evenement) as censures,
        count(*) as sortants
    from subjects_by_public
    group by dispositif, collectivite, annee_entree, trimestre_entree, public, evenement, duree_jours
),

-- At risk at t: subjects whose time is t or later.
event_times_at_risk as (
    select
        *,
        sum(sortants) over (
            partition by dispositif, collectivite, annee_entree, trimestre_entree, public, evenement
            order by duree_jours desc
            rows between unbounded preceding and current row
        ) as a_risque
    from event_times
),

-- Running product as exp(sum(ln)), zero factors (everyone at risk has the event) counted apart.
kaplan_meier_terms as (
    select
        *,
        sum(case when evenements = a_risque then 1 else 0 end) over cohort_time as facteurs_nuls,
        sum(case when evenements < a_risque then ln(1 - cast(evenements as double) / a_risque) else 0 end)
            over cohort_time as somme_log_facteurs,
        sum(case when evenements < a_risque
            then cast(evenements as double) / (cast(a_risque as double) * (a_risque - evenements))
            else 0 end) over cohort_time as somme_greenwood
    from event_times_at_risk
    window cohort_time as (
        partition by dispositif, collectivite, annee_entree, trimestre_entree, public, evenement
        order by duree_jours
        rows between unbounded preceding and current row
    )
),

kaplan_meier as (
    select
        *,
        case when facteurs_nuls > 0 then 0.0 else exp(somme_log_facteurs) end as survie_brute
    from kaplan_meier_terms
),

kaplan_meier_with_variance as (
    select
        *,
        case when survie_brute > 0 then survie_brute * survie_brute * somme_greenwood end as variance_brute
    from kaplan_meier
)

select
    md5(
        dispositif || '|' || collectivite || '|' || cast(annee_entree as varchar) || '|'
        || cast(trimestre_entree as varchar) || '|' || public || '|' || evenement || '|'
        || cast(duree_jours as varchar)
    ) as cle_cohorte_evenement_duree,
    dispositif,
    collectivite,
    annee_entree,
    trimestre_entree,
    public,
    evenement,
    cast(duree_jours as integer) as duree_jours,
    cast(a_risque as integer) as a_risque,
    cast(evenements as integer) as evenements,
    cast(censures as integer) as censures,
    round(survie_brute, 10) as survie,
    round(variance_brute, 10) as variance_greenwood,
    -- greatest/least skip nulls in some engines: clip only where the variance is defined.
    case when variance_brute is not null
        then round(greatest(0.0, survie_brute - 1.96 * sqrt(variance_brute)), 10) end as ic95_bas,
    case when variance_brute is not null
        then round(least(1.0, survie_brute + 1.96 * sqrt(variance_brute)), 10) end as ic95_haut
from kaplan_meier_with_variance
