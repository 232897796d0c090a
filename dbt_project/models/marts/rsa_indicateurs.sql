{#-
  RSA indicators, one row per département (the collectivité managing the right) and calendar year,
  one column per indicator with its numerator (`_num`) and denominator (`_den`) kept.

  Conventions (see seeds/indicateurs.csv for each definition):
  - a person is "in RSA" at a date d when one of their spells has opened on or before d and has
    not closed before d (dates inclusive at both ends, as in int_episode_context);
  - counts of entrants and beneficiaries are distinct linked persons (person_id);
  - orientation and contract fields are those of the spell as last sent by the source (one
    orientation and one contract per spell: earlier ones are not known);
  - observation cut-off: the département's own latest extract date for its indicators; the oldest
    latest extract date of the four départements for the yearly exit rate (a person who left RSA
    in one département may be in RSA in another). A window ending after its cut-off is censored:
    the indicator is null for that year (for the 30-day share, spells whose 30-day window ends
    after the cut-off are left out).
-#}
{%- set departements = [] -%}
{%- for source, entities in var('source_entities').items() -%}
  {%- if 'brsa' in entities %}{% do departements.append(source) %}{% endif -%}
{%- endfor -%}
{%- set first_year = var('annee_debut_observation', 2018) -%}

{#- Ratio columns: (name, numerator, denominator, whether its window is observed). -#}
{%- set ratios = [
    ('rsa_delai_orientation_moyen', 'somme_delais_jours', 'nb_orientations', 'annee_observee'),
    ('rsa_part_orientes_30j', 'nb_orientes_30j', 'nb_ouvertures_30j', 'true'),
    ('rsa_part_orientes_fin_annee', 'nb_orientes', 'nb_beneficiaires', 'annee_observee'),
    ('rsa_part_orientation_pro', 'nb_orientation_pro', 'nb_orientes', 'annee_observee'),
    ('rsa_part_orientation_socio_pro', 'nb_orientation_socio_pro', 'nb_orientes', 'annee_observee'),
    ('rsa_part_orientation_sociale', 'nb_orientation_sociale', 'nb_orientes', 'annee_observee'),
    ('rsa_couverture_cer', 'nb_cer', 'nb_referent_hors_ft', 'annee_observee'),
    ('rsa_couverture_ppae', 'nb_ppae', 'nb_referent_ft', 'annee_observee'),
    ('rsa_taux_sortie_annuel', 'nb_sortis', 'nb_beneficiaires_sortie', 'annee_suivante_observee'),
] -%}

with brsa_records as (
{% for source in departements %}
    select
        collectivite, dossier_id, date_ouverture_droit, date_fin_droit,
        date_orientation, orientation, organisme_referent, date_contrat, type_contrat
    from {{ ref('stg_' ~ source ~ '__brsa') }}
    {% if not loop.last %}union all{% endif %}
{% endfor %}
),

rsa_spells as (
    select
        k.person_id,
        b.collectivite,
        substr(b.collectivite, 3) as departement,
        b.dossier_id,
        b.date_ouverture_droit as date_ouverture,
        b.date_fin_droit as date_fin,
        b.date_orientation,
        b.orientation,
        b.organisme_referent,
        b.date_contrat,
        b.type_contrat
    from brsa_records as b
    inner join {{ ref('int_person_keys') }} as k
        on b.collectivite = k.collectivite and k.entite = 'brsa' and b.dossier_id = k.record_id
    -- A spell closing before it opens is inconsistent: it is left out.
    where b.date_fin_droit is null or b.date_fin_droit >= b.date_ouverture_droit
),

departement_cutoffs as (
    select collectivite, date_coupure
    from {{ ref('int_observation_cutoff') }}
    where perimetre = 'COLLECTIVITE'
        and collectivite in ({% for source in departements %}'{{ source }}'{{ ', ' if not loop.last }}{% endfor %})
),

-- The yearly exit rate looks at RSA in every département: the oldest of their cut-offs.
all_departements_cutoff as (
    select min(date_coupure) as date_coupure from departement_cutoffs
),

departement_years as (
    select
        c.collectivite,
        substr(c.collectivite, 3) as departement,
        cast(y.annee as integer) as annee,
        make_date(cast(y.annee as integer), 12, 31) as fin_annee,
        c.date_coupure,
        a.date_coupure as date_coupure_taux_sortie
    from departement_cutoffs as c
    cross join all_departements_cutoff as a
    cross join generate_series({{ first_year }}, extract(year from c.date_coupure)) as y(annee)
),

entrants as (
    select y.collectivite, y.annee, count(distinct s.person_id) as nb_entrants
    from departement_years as y
    inner join rsa_spells as s
        on y.collectivite = s.collectivite and extract(year from s.date_ouverture) = y.annee
    group by y.collectivite, y.annee
),

-- Spells in force on 31 December, with what was known of them on that day.
spells_at_year_end as (
    select
        y.collectivite,
        y.annee,
        s.person_id,
        s.date_orientation <= y.fin_annee as oriente,
        case when s.date_orientation <= y.fin_annee then s.orientation end as orientation,
        case when s.date_orientation <= y.fin_annee then s.organisme_referent end as organisme_referent,
        s.date_contrat <= y.fin_annee and s.type_contrat = 'CER' as avec_cer,
        s.date_contrat <= y.fin_annee and s.type_contrat = 'PPAE' as avec_ppae
    from departement_years as y
    inner join rsa_spells as s
        on y.collectivite = s.collectivite
        and s.date_ouverture <= y.fin_annee
        and (s.date_fin is null or s.date_fin >= y.fin_annee)
),

year_end_stock as (
    select
        collectivite,
        annee,
        count(distinct person_id) as nb_beneficiaires,
        count(distinct person_id) filter (where oriente) as nb_orientes,
        count(distinct person_id) filter (where orientation = 'PROFESSIONNELLE') as nb_orientation_pro,
        count(distinct person_id) filter (where orientation = 'SOCIO_PROFESSIONNELLE') as nb_orientation_socio_pro,
        count(distinct person_id) filter (where orientation = 'SOCIALE') as nb_orientation_sociale,
        count(distinct person_id) filter (where organisme_referent <> 'FRANCE_TRAVAIL') as nb_referent_hors_ft,
        count(distinct person_id) filter (where organisme_referent <> 'FRANCE_TRAVAIL' and avec_cer) as nb_cer,
        count(distinct person_id) filter (where organisme_referent = 'FRANCE_TRAVAIL') as nb_referent_ft,
        count(distinct person_id) filter (where organisme_referent = 'FRANCE_TRAVAIL' and avec_ppae) as nb_ppae
    from spells_at_year_end
    group by collectivite, annee
),

-- Orientation decisions taken during the year, and their delay since the spell opened.
orientations_in_year as (
    select
        y.collectivite,
        y.annee,
        s.date_orientation - s.date_ouverture as delai_jours
    from departement_years as y
    inner join rsa_spells as s
        on y.collectivite = s.collectivite
        and extract(year from s.date_orientation) = y.annee
        -- An orientation dated before the opening is inconsistent: left out.
        and s.date_orientation >= s.date_ouverture
),

orientation_delays as (
    select
        collectivite,
        annee,
        count(*) as nb_orientations,
        sum(delai_jours) as somme_delais_jours,
        median(delai_jours) as delai_median_jours
    from orientations_in_year
    group by collectivite, annee
),

-- Spells opened during the year whose 30-day window is observed by the cut-off.
openings_with_30_day_window as (
    select
        y.collectivite,
        y.annee,
        s.date_orientation is not null
            and s.date_orientation <= s.date_ouverture + 30 as oriente_30_jours
    from departement_years as y
    inner join rsa_spells as s
        on y.collectivite = s.collectivite
        and extract(year from s.date_ouverture) = y.annee
        and s.date_ouverture + 30 <= y.date_coupure
        and (s.date_orientation is null or s.date_orientation >= s.date_ouverture)
),

oriented_within_30_days as (
    select
        collectivite,
        annee,
        count(*) as nb_ouvertures,
        count(*) filter (where oriente_30_jours) as nb_orientes_30_jours
    from openings_with_30_day_window
    group by collectivite, annee
),

-- Beneficiaries on 31/12/N, and whether they are still in RSA (any département) on 31/12/N+1.
persons_in_rsa_year_after as (
    select distinct y.collectivite, y.annee, s.person_id
    from departement_years as y
    inner join rsa_spells as s
        on s.date_ouverture <= make_date(y.annee + 1, 12, 31)
        and (s.date_fin is null or s.date_fin >= make_date(y.annee + 1, 12, 31))
),

yearly_exits as (
    select
        b.collectivite,
        b.annee,
        count(distinct b.person_id) as nb_beneficiaires,
        count(distinct b.person_id) filter (where a.person_id is null) as nb_sortis
    from spells_at_year_end as b
    left join persons_in_rsa_year_after as a
        on b.collectivite = a.collectivite and b.annee = a.annee and b.person_id = a.person_id
    group by b.collectivite, b.annee
),

indicators as (
    select
        y.departement,
        y.collectivite,
        y.annee,
        y.date_coupure,
        y.date_coupure_taux_sortie,
        y.fin_annee <= y.date_coupure as annee_observee,
        make_date(y.annee + 1, 12, 31) <= y.date_coupure_taux_sortie as annee_suivante_observee,
        coalesce(e.nb_entrants, 0) as nb_entrants,
        coalesce(st.nb_beneficiaires, 0) as nb_beneficiaires,
        coalesce(st.nb_orientes, 0) as nb_orientes,
        coalesce(st.nb_orientation_pro, 0) as nb_orientation_pro,
        coalesce(st.nb_orientation_socio_pro, 0) as nb_orientation_socio_pro,
        coalesce(st.nb_orientation_sociale, 0) as nb_orientation_sociale,
        coalesce(st.nb_referent_hors_ft, 0) as nb_referent_hors_ft,
        coalesce(st.nb_cer, 0) as nb_cer,
        coalesce(st.nb_referent_ft, 0) as nb_referent_ft,
        coalesce(st.nb_ppae, 0) as nb_ppae,
        coalesce(d.nb_orientations, 0) as nb_orientations,
        coalesce(d.somme_delais_jours, 0) as somme_delais_jours,
        d.delai_median_jours,
        coalesce(o.nb_ouvertures, 0) as nb_ouvertures_30j,
        coalesce(o.nb_orientes_30_jours, 0) as nb_orientes_30j,
        coalesce(x.nb_beneficiaires, 0) as nb_beneficiaires_sortie,
        coalesce(x.nb_sortis, 0) as nb_sortis
    from departement_years as y
    left join entrants as e on y.collectivite = e.collectivite and y.annee = e.annee
    left join year_end_stock as st on y.collectivite = st.collectivite and y.annee = st.annee
    left join orientation_delays as d on y.collectivite = d.collectivite and y.annee = d.annee
    left join oriented_within_30_days as o on y.collectivite = o.collectivite and y.annee = o.annee
    left join yearly_exits as x on y.collectivite = x.collectivite and y.annee = x.annee
)

select
    md5(departement || '|' || annee) as id_ligne,
    departement,
    collectivite,
    annee,
    date_coupure,
    date_coupure_taux_sortie,
    case when annee_observee then nb_entrants end as rsa_entrants,
    case when annee_observee then nb_beneficiaires end as rsa_beneficiaires_fin_annee,
    case when annee_observee then delai_median_jours end as rsa_delai_orientation_median,
    case when annee_observee then nb_orientations end as rsa_delai_orientation_median_den,
    {#- Each ratio is null when censored or when its denominator is zero. #}
{%- for name, numerator, denominator, observed in ratios %}
    case when {{ observed }} and {{ denominator }} > 0
        then {{ numerator }} / {{ denominator }} end as {{ name }},
    case when {{ observed }} then {{ numerator }} end as {{ name }}_num,
    case when {{ observed }} then {{ denominator }} end as {{ name }}_den{{ ',' if not loop.last }}
{%- endfor %}
from indicators
