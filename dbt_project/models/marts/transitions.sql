{#-
  For each exit, the next dispositif within 3, 6 and 12 months. The next episode is the
  person's first other episode (any dispositif, RSA included) starting on or after the exit date
  (earliest start; ties broken by dispositif then episode). For each window: the next dispositif
  if it starts within the window (exit date + N months, inclusive), null otherwise; a window
  ending after the global cut-off is censored (null dispositif, censure true).
-#}
{%- set windows = [3, 6, 12] -%}

with exits as (
    select * from {{ ref('int_exits') }}
),

episodes as (
    select * from {{ ref('int_episodes') }}
),

cutoff as (
    select date_coupure from {{ ref('int_observation_cutoff') }} where perimetre = 'GLOBAL'
),

following_episodes as (
    select
        x.episode_id,
        n.dispositif as dispositif_suivant,
        n.date_debut as date_debut_suivant,
        row_number() over (
            partition by x.episode_id order by n.date_debut, n.dispositif, n.episode_id
        ) as rang_suivant
    from exits as x
    inner join episodes as n
        on x.person_id = n.person_id
        and n.episode_id <> x.episode_id
        and n.date_debut >= x.date_fin
),

next_episodes as (
    select episode_id, dispositif_suivant, date_debut_suivant
    from following_episodes
    where rang_suivant = 1
),

exits_with_next as (
    select
        x.episode_id,
        x.person_id,
        x.collectivite,
        x.dispositif,
        x.date_fin,
        x.annee_sortie,
        x.categorie_sortie,
        n.dispositif_suivant,
        n.date_debut_suivant,
        c.date_coupure
    from exits as x
    cross join cutoff as c
    left join next_episodes as n on x.episode_id = n.episode_id
)

select
    episode_id,
    person_id,
    collectivite,
    dispositif,
    date_fin,
    annee_sortie,
    categorie_sortie,
    date_debut_suivant,
{%- for months in windows %}
    cast(date_fin + {{ months }} * interval '1 month' as date) > date_coupure as censure_{{ months }}m,
    case
        when cast(date_fin + {{ months }} * interval '1 month' as date) > date_coupure then null
        when date_debut_suivant <= cast(date_fin + {{ months }} * interval '1 month' as date)
            then dispositif_suivant
    end as dispositif_suivant_{{ months }}m{% if not loop.last %},{% endif %}
{%- endfor %}
from exits_with_next
