{#-
  Every exit: an episode with an end date. Rupture (convention definition): an episode that
  ends without an employment or neutral outcome and is followed by no other episode (other than
  RSA) within 90 days. "Followed" means another episode of the same person starting between the
  exit date and 90 days after it (both inclusive). The 90-day window is observed when it ends by
  the global cut-off; otherwise an exit with no follower yet has an unknown rupture (null), and
  the exit is left out of the rupture-rate denominator.
-#}
{%- set window_days = var('rupture_window_days') -%}

with episodes as (
    select * from {{ ref('int_episodes') }}
),

cutoff as (
    select date_coupure from {{ ref('int_observation_cutoff') }} where perimetre = 'GLOBAL'
),

exits as (
    select
        episode_id, person_id, collectivite, entite, dispositif, famille_dispositif, type_etape,
        date_debut, date_fin, motif_sortie, categorie_sortie
    from episodes
    where date_fin is not null
),

-- The first other episode (RSA excepted) starting within the window after each exit.
next_episode_in_window as (
    select
        x.episode_id,
        min(n.date_debut) as date_episode_suivant
    from exits as x
    inner join episodes as n
        on x.person_id = n.person_id
        and n.episode_id <> x.episode_id
        and n.dispositif <> 'RSA'
        and n.date_debut >= x.date_fin
        and n.date_debut <= x.date_fin + {{ window_days }}
    group by x.episode_id
),

exits_with_window as (
    select
        x.*,
        nx.date_episode_suivant,
        x.date_fin + {{ window_days }} as date_fin_fenetre,
        x.date_fin + {{ window_days }} <= c.date_coupure as fenetre_observee,
        coalesce(x.categorie_sortie in ('EMPLOI_DURABLE', 'EMPLOI_TRANSITION'), false) as sortie_emploi,
        coalesce(x.categorie_sortie = 'NEUTRE', false) as sortie_neutre
    from exits as x
    cross join cutoff as c
    left join next_episode_in_window as nx on x.episode_id = nx.episode_id
)

select
    episode_id,
    person_id,
    collectivite,
    entite,
    dispositif,
    famille_dispositif,
    type_etape,
    date_debut,
    date_fin,
    cast(extract(year from date_fin) as integer) as annee_sortie,
    motif_sortie,
    categorie_sortie,
    sortie_emploi,
    sortie_neutre,
    date_episode_suivant,
    date_fin_fenetre,
    fenetre_observee,
    case
        when sortie_emploi or sortie_neutre then false
        when date_episode_suivant is not null then false
        when fenetre_observee then true
    end as rupture,
    not sortie_neutre and fenetre_observee as dans_denominateur_rupture
from exits_with_window
