{#-
  Cohort members followed at each horizon (person × cohort × horizon).
  A cohort is (shared dispositif, collectivité, entry year, entry quarter, public); its members
  are the distinct persons who entered the dispositif in that collectivité during the quarter
  (first start in the quarter). Publics: TOUS, and BRSA / JSQ evaluated at that start (a member
  can be in several). At each horizon (months after entry) the member is either censored (the
  horizon falls after the global cut-off: no situation) or observed, with the situation at that
  date (macro situation_at) and whether an episode of the cohort's own dispositif is ongoing.
  Cohorts entering before the exchange's first year (var annee_debut_observation) are not built
  (int_episode_context.entree_cohorte): they would be left-truncated.
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
        tranche_age,
        sexe,
        departement,
        public_brsa,
        public_jsq
    from {{ ref('int_episode_context') }}
    where entree_cohorte
),

cutoff as (
    select date_coupure from {{ ref('int_observation_cutoff') }} where perimetre = 'GLOBAL'
),

horizons as (
{%- for horizon in var('cohort_horizons') %}
    select {{ horizon }} as horizon_mois {% if not loop.last %}union all{% endif %}
{%- endfor %}
),

member_horizons as (
    select
        e.*,
        h.horizon_mois,
        cast(e.date_entree + h.horizon_mois * interval '1 month' as date) as date_horizon,
        cast(e.date_entree + h.horizon_mois * interval '1 month' as date) > c.date_coupure as censure
    from cohort_entries as e
    cross join horizons as h
    cross join cutoff as c
),

observed_horizon_dates as (
    select person_id, date_horizon as date_situation
    from member_horizons
    where not censure
),

situations_at_horizon as (
    {{ situation_at('observed_horizon_dates') }}
),

-- Observed horizons at which an episode of the cohort's own dispositif is ongoing.
still_in_own_dispositif as (
    select distinct m.episode_entree_id, m.horizon_mois
    from member_horizons as m
    inner join {{ ref('int_episodes') }} as e
        on m.person_id = e.person_id
        and m.dispositif = e.dispositif
        and e.date_debut <= m.date_horizon
        and (e.date_fin is null or e.date_fin >= m.date_horizon)
    where not m.censure
),

followed_members as (
    select
        m.*,
        case when not m.censure then s.situation end as situation,
        case when not m.censure then d.episode_entree_id is not null end as dans_dispositif
    from member_horizons as m
    left join situations_at_horizon as s
        on m.person_id = s.person_id and m.date_horizon = s.date_situation
    left join still_in_own_dispositif as d
        on m.episode_entree_id = d.episode_entree_id and m.horizon_mois = d.horizon_mois
),

-- One row per public the member belongs to.
members_by_public as (
    select *, 'TOUS' as public from followed_members
    union all
    select *, 'BRSA' as public from followed_members where public_brsa
    union all
    select *, 'JSQ' as public from followed_members where public_jsq
)

select
    md5(
        dispositif || '|' || collectivite || '|' || cast(annee_entree as varchar) || '|'
        || cast(trimestre_entree as varchar) || '|' || public || '|' || person_id || '|'
        || cast(horizon_mois as varchar)
    ) as cle_membre_horizon,
    dispositif,
    collectivite,
    annee_entree,
    trimestre_entree,
    public,
    person_id,
    episode_entree_id,
    date_entree,
    tranche_age,
    sexe,
    departement,
    horizon_mois,
    date_horizon,
    situation,
    dans_dispositif,
    censure
from members_by_public
