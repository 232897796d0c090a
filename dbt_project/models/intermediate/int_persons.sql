{#- One row per linked person; attributes from the most recent record that has them. -#}
with keyed as (
    select * from {{ ref('int_person_keys') }}
),

current_commune as (
    select
        k.*,
        coalesce(d.code_insee_commune_actuelle, k.commune_insee) as commune_actuelle
    from keyed as k
    left join {{ ref('communes_deleguees_bretagne') }} as d
        on k.commune_insee = d.code_insee and d.code_insee <> d.code_insee_commune_actuelle
),

attributes as (
    select
        person_id,
        arg_max(sexe, date_reference) filter (where sexe is not null) as sexe,
        arg_max(mois_naissance, date_reference) filter (where mois_naissance is not null) as mois_naissance,
        arg_max(commune_actuelle, date_reference) filter (where commune_actuelle is not null) as commune_insee,
        arg_max(niveau_diplome, date_reference) filter (where niveau_diplome is not null) as niveau_diplome,
        count(*) as nb_enregistrements,
        count(distinct collectivite) as nb_collectivites,
        min(date_reference) as premiere_date,
        max(date_reference) as derniere_date
    from current_commune
    group by person_id
)

select
    a.*,
    c.departement,
    c.epci_siren
from attributes as a
left join {{ ref('communes_bretagne') }} as c on a.commune_insee = c.code_insee
