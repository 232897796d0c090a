{#-
  Linkage: records sharing a pseudo_nir or a pseudo_ec belong to the same person (connected
  components over both keys), except that two different pseudo_nir never meet: a pseudo_ec seen
  with two or more pseudo_nir (homonyms born the same day) is ambiguous and does not link.
  Once ambiguous civil-status keys are set aside, every pseudo_ec points to at most one pseudo_nir,
  so each component is one pseudo_nir with its civil-status keys, or a lone pseudo_ec: the
  component is found in one pass, without iterating.
-#}
with pairs as (
    select distinct pseudo_nir, pseudo_ec
    from {{ ref('int_person_records') }}
    where pseudo_nir is not null and pseudo_ec is not null
),

ec_links as (
    select pseudo_ec, min(pseudo_nir) as pseudo_nir, count(distinct pseudo_nir) as nir_count
    from pairs
    group by pseudo_ec
),

records as (
    select
        r.*,
        coalesce(l.nir_count, 0) > 1 as pseudo_ec_ambigu,
        case
            when r.pseudo_nir is not null then 'N|' || r.pseudo_nir
            when l.nir_count = 1 then 'N|' || l.pseudo_nir
            else 'E|' || r.pseudo_ec
        end as identity_key
    from {{ ref('int_person_records') }} as r
    left join ec_links as l on r.pseudo_ec = l.pseudo_ec
)

select
    collectivite,
    entite,
    record_id,
    'P' || substr(md5(identity_key), 1, 16) as person_id,
    pseudo_nir,
    pseudo_ec,
    pseudo_ec_ambigu,
    date_reference,
    sexe,
    mois_naissance,
    commune_insee,
    niveau_diplome
from records
