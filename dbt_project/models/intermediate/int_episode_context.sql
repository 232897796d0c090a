{#-
  One row per episode with the person's profile at the episode's start: age and age band,
  sex and place of residence (from int_persons), and the convention's publics (non-exclusive):
  - BRSA: in an RSA spell known to the warehouse at the start, or declared as such by the source
    (PLIE `publics` of the pathway, also for its steps; Région `statut_entree`);
  - JSQ: under 26 with a diploma level below 3 (`infra3`), or found by a PSAD platform in the
    12 months before the start (both ends inclusive).
  Also flags the episode that makes the person a member of a cohort: the first start of the
  person in a (dispositif, collectivité, entry year, entry quarter), from the exchange's first
  year on.
-#}
with episodes as (
    select * from {{ ref('int_episodes') }}
),

persons as (
    select person_id, sexe, mois_naissance, niveau_diplome, departement, epci_siren
    from {{ ref('int_persons') }}
),

rsa_spells as (
    select person_id, date_debut, date_fin
    from episodes
    where dispositif = 'RSA'
),

psad_trackings as (
    select person_id, date_evenement
    from {{ ref('int_events') }}
    where dispositif = 'PSAD'
),

-- Episodes that start inside an RSA spell of the same person (dates inclusive at both ends).
starts_in_rsa_spell as (
    select distinct e.episode_id
    from episodes as e
    inner join rsa_spells as r
        on e.person_id = r.person_id
        and r.date_debut <= e.date_debut
        and (r.date_fin is null or r.date_fin >= e.date_debut)
),

-- Episodes whose person was found by a PSAD platform in the 12 months before the start.
psad_in_year_before_start as (
    select distinct e.episode_id
    from episodes as e
    inner join psad_trackings as p
        on e.person_id = p.person_id
        and p.date_evenement <= e.date_debut
        and p.date_evenement >= cast(e.date_debut - interval '12 months' as date)
),

-- Publics declared by the source: the PLIE pathway's own list (PLIE steps inherit it).
declared_publics as (
    select
        e.episode_id,
        coalesce(e.publics_declares, pathway.publics_declares) as publics_declares
    from episodes as e
    left join episodes as pathway on e.episode_parent_id = pathway.episode_id
),

episodes_with_age as (
    select
        e.*,
        p.sexe,
        p.niveau_diplome,
        p.departement,
        p.epci_siren,
        -- Birth is known to the month (first day): full years are full months / 12.
        cast(floor((
            12 * (extract(year from e.date_debut) - extract(year from p.mois_naissance))
            + extract(month from e.date_debut) - extract(month from p.mois_naissance)
        ) / 12.0) as integer) as age_debut
    from episodes as e
    left join persons as p on e.person_id = p.person_id
)

select
    e.episode_id,
    e.person_id,
    e.collectivite,
    e.entite,
    e.dispositif,
    e.famille_dispositif,
    e.type_etape,
    e.date_debut,
    e.date_fin,
    e.motif_sortie,
    e.categorie_sortie,
    e.age_debut,
    case
        when e.age_debut is null then null
        when e.age_debut < 26 then 'MOINS_26'
        when e.age_debut < 45 then '26_44'
        when e.age_debut < 55 then '45_54'
        else '55_PLUS'
    end as tranche_age,
    e.sexe,
    e.niveau_diplome,
    e.departement,
    e.epci_siren,
    (
        rsa.episode_id is not null
        or coalesce(list_contains(d.publics_declares, 'BRSA'), false)
        or coalesce(e.statut_entree = 'BRSA', false)
    ) as public_brsa,
    (
        coalesce(e.age_debut < 26 and e.niveau_diplome = 'infra3', false)
        or psad.episode_id is not null
    ) as public_jsq,
    cast(extract(year from e.date_debut) as integer) as annee_entree,
    cast(extract(quarter from e.date_debut) as integer) as trimestre_entree,
    -- No cohort before the exchange's first year: extracts only carry records still active then,
    -- so such a cohort would hold its survivors only (left truncation).
    extract(year from e.date_debut) >= {{ var('annee_debut_observation', 2018) }}
    and row_number() over (
        partition by e.person_id, e.dispositif, e.collectivite,
            extract(year from e.date_debut), extract(quarter from e.date_debut)
        order by e.date_debut, e.episode_id
    ) = 1 as entree_cohorte
from episodes_with_age as e
left join starts_in_rsa_spell as rsa on e.episode_id = rsa.episode_id
left join psad_in_year_before_start as psad on e.episode_id = psad.episode_id
left join declared_publics as d on e.episode_id = d.episode_id
