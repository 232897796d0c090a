{#-
  "Tell us once": per year and pair of collectivités (c1 < c2), the distinct persons known to
  both that year. A person is known to a collectivité in a year when one of its episodes is
  active that year (an open episode runs to the collectivité's cut-off) or one of its events is
  dated that year. Every pair of collectivités appears every year (zero included).
-#}
with episodes as (
    select * from {{ ref('int_episodes') }}
),

collectivity_cutoffs as (
    select collectivite, date_coupure
    from {{ ref('int_observation_cutoff') }}
    where perimetre = 'COLLECTIVITE'
),

episode_years as (
    select
        e.person_id,
        e.collectivite,
        cast(extract(year from e.date_debut) as integer) as annee_debut,
        cast(extract(year from coalesce(e.date_fin, c.date_coupure)) as integer) as annee_fin
    from episodes as e
    left join collectivity_cutoffs as c on e.collectivite = c.collectivite
),

years as (
    select cast(generate_series as integer) as annee
    from generate_series(
        (select min(annee_debut) from episode_years),
        (select max(cast(extract(year from date_coupure) as integer)) from collectivity_cutoffs)
    )
),

persons_known_per_year as (
    select distinct y.annee, e.collectivite, e.person_id
    from episode_years as e
    inner join years as y on y.annee between e.annee_debut and coalesce(e.annee_fin, e.annee_debut)
    union
    select distinct cast(extract(year from v.date_evenement) as integer), v.collectivite, v.person_id
    from {{ ref('int_events') }} as v
),

collectivity_pairs as (
    select a.collectivite as collectivite_1, b.collectivite as collectivite_2
    from collectivity_cutoffs as a
    inner join collectivity_cutoffs as b on a.collectivite < b.collectivite
),

known_counts as (
    select annee, collectivite, count(distinct person_id) as personnes
    from persons_known_per_year
    group by annee, collectivite
),

shared_counts as (
    select
        a.annee,
        a.collectivite as collectivite_1,
        b.collectivite as collectivite_2,
        count(distinct a.person_id) as personnes_communes
    from persons_known_per_year as a
    inner join persons_known_per_year as b
        on a.annee = b.annee and a.person_id = b.person_id and a.collectivite < b.collectivite
    group by a.annee, a.collectivite, b.collectivite
),

year_pairs as (
    select y.annee, p.collectivite_1, p.collectivite_2
    from (select distinct annee from persons_known_per_year) as y
    cross join collectivity_pairs as p
)

select
    md5(cast(g.annee as varchar) || '|' || g.collectivite_1 || '|' || g.collectivite_2) as cle_annee_paire,
    g.annee,
    g.collectivite_1,
    g.collectivite_2,
    coalesce(k1.personnes, 0) as personnes_collectivite_1,
    coalesce(k2.personnes, 0) as personnes_collectivite_2,
    coalesce(s.personnes_communes, 0) as personnes_communes
from year_pairs as g
left join known_counts as k1 on g.annee = k1.annee and g.collectivite_1 = k1.collectivite
left join known_counts as k2 on g.annee = k2.annee and g.collectivite_2 = k2.collectivite
left join shared_counts as s
    on g.annee = s.annee and g.collectivite_1 = s.collectivite_1 and g.collectivite_2 = s.collectivite_2
