{#-
  Cohorts followed at each horizon, aggregated (cohort × horizon × situation). Every situation
  appears for every cohort and horizon (zero counts included). `membres` are the cohort's
  distinct persons, `observes` those whose horizon is by the cut-off, `censures` the others
  (observes + censures = membres); `part` = effectif / observes (null when nobody is observed).
-#}
with members as (
    select * from {{ ref('cohortes_membres') }}
),

situation_codes as (
    select 'EMPLOI' as situation
    union all select 'FORMATION'
    union all select 'ACCOMPAGNEMENT'
    union all select 'RSA'
    union all select 'INCONNUE'
),

cohort_horizon_counts as (
    select
        dispositif, collectivite, annee_entree, trimestre_entree, public, horizon_mois,
        count(distinct person_id) as membres,
        count(distinct case when not censure then person_id end) as observes,
        count(distinct case when censure then person_id end) as censures
    from members
    group by dispositif, collectivite, annee_entree, trimestre_entree, public, horizon_mois
),

situation_counts as (
    select
        dispositif, collectivite, annee_entree, trimestre_entree, public, horizon_mois, situation,
        count(distinct person_id) as effectif,
        count(distinct case when dans_dispositif then person_id end) as effectif_dans_dispositif
    from members
    where not censure
    group by dispositif, collectivite, annee_entree, trimestre_entree, public, horizon_mois, situation
),

cohort_horizon_situations as (
    select
        c.*,
        s.situation,
        coalesce(n.effectif, 0) as effectif,
        coalesce(n.effectif_dans_dispositif, 0) as effectif_dans_dispositif
    from cohort_horizon_counts as c
    cross join situation_codes as s
    left join situation_counts as n
        on c.dispositif = n.dispositif
        and c.collectivite = n.collectivite
        and c.annee_entree = n.annee_entree
        and c.trimestre_entree = n.trimestre_entree
        and c.public = n.public
        and c.horizon_mois = n.horizon_mois
        and s.situation = n.situation
)

select
    md5(
        dispositif || '|' || collectivite || '|' || cast(annee_entree as varchar) || '|'
        || cast(trimestre_entree as varchar) || '|' || public || '|'
        || cast(horizon_mois as varchar) || '|' || situation
    ) as cle_cohorte_horizon_situation,
    dispositif,
    collectivite,
    annee_entree,
    trimestre_entree,
    public,
    horizon_mois,
    situation,
    membres,
    observes,
    censures,
    effectif,
    effectif_dans_dispositif,
    case when observes > 0 then cast(effectif as double) / observes end as part
from cohort_horizon_situations
