{#-
  Person-level pathways (pseudonymised person_id; analysts with authorisation only): every
  episode of each person in order of start (then end, open last, then episode id), with the gap
  in days since the previous episode's end (negative when they overlap, empty for the first
  episode or when the previous one is still open) and the rupture flag of the episode's exit.
-#}
with episodes as (
    select * from {{ ref('int_episodes') }}
),

exits as (
    select episode_id, rupture, fenetre_observee from {{ ref('int_exits') }}
),

ordered_episodes as (
    select
        e.person_id,
        row_number() over person_pathway as rang,
        e.episode_id,
        e.collectivite,
        e.dispositif,
        e.famille_dispositif,
        e.date_debut,
        e.date_fin,
        e.motif_sortie,
        e.categorie_sortie,
        lag(e.dispositif) over person_pathway as dispositif_precedent,
        lag(e.date_fin) over person_pathway as date_fin_precedente
    from episodes as e
    window person_pathway as (
        partition by e.person_id
        order by e.date_debut, e.date_fin nulls last, e.episode_id
    )
)

select
    o.person_id,
    cast(o.rang as integer) as rang,
    o.episode_id,
    o.collectivite,
    o.dispositif,
    o.famille_dispositif,
    o.date_debut,
    o.date_fin,
    o.motif_sortie,
    o.categorie_sortie,
    o.dispositif_precedent,
    o.date_fin_precedente,
    o.date_debut - o.date_fin_precedente as ecart_jours,
    x.fenetre_observee as fenetre_rupture_observee,
    x.rupture
from ordered_episodes as o
left join exits as x on o.episode_id = x.episode_id
