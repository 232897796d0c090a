{#-
  The shared indicator grid, long format: one row per indicator code x period x grouping set x
  dimension values, with the value, its numerator and its denominator (small cells are not
  suppressed here; a later step can do it from numerateur/denominateur).

  Periods: every calendar year (trimestre = 'TOTAL') and every quarter from the first year of the
  exchange (2018) that ends on or before the global observation cut-off (the oldest of the latest
  extract dates of all sources): a period ending after it is censored and not published.
  Within a period the grouping sets are: total, each dimension alone, collectivity x dispositif
  (a dispositif such as RSA or a PDI is run by several collectivities), territory x public and
  sex x age band. A dimension aggregated by the grouping set reads 'TOTAL', an unknown value
  'INCONNU'; `niveau_agregation` names the grouping set, period first.

  Scope: episodes of int_episode_context except PLIE steps (components of a PLIE pathway, whose
  person is already counted under dispositif PLIE; their end is not an exit and has no reason),
  and aid decisions of int_events (famille AIDE). Entrant, present and beneficiary counts are
  distinct persons; exit counts are episodes; decision counts are decisions. Sex and residence
  are the person's (int_persons); age band and publics are evaluated at the episode's start
  (int_episode_context) or, for an aid, at the decision date (computed here by the same rules).
  Rates and shares leave out exits whose outcome category is NEUTRE (or unknown); a cell whose
  denominator is zero has no value and is not published.
  `additif` says whether the values of the row's grouping set add up to the period's total: true
  for a count whose unit (person, exit, decision) has exactly one value of each of the set's
  dimensions.
-#}
{%- set first_year = var('annee_debut_observation', 2018) -%}
{%- set dims = ['collectivite', 'dispositif', 'departement', 'epci_siren', 'public', 'sexe', 'tranche_age'] -%}
{%- set grouping_sets = {
    'tous': [[], ['collectivite'], ['dispositif'], ['collectivite', 'dispositif'], ['departement'], ['epci_siren'], ['sexe'], ['tranche_age'], ['sexe', 'tranche_age']],
    'par_public': [['public'], ['departement', 'public'], ['epci_siren', 'public']],
} -%}
{%- set situations = ['EMPLOI', 'FORMATION', 'ACCOMPAGNEMENT', 'RSA', 'INCONNUE'] -%}

{#- What each family of indicators aggregates, once per grouping set. -#}
{%- set presence_aggregates -%}
        count(distinct person_id) filter (where entree_periode) as nb_entrants,
        count(distinct person_id) as nb_presents,
        count(distinct person_id) filter (where present_fin_periode) as nb_presents_fin
{%- endset -%}
{%- set exit_aggregates -%}
        count(*) as nb_sorties,
        median(duree_jours) as duree_mediane_jours,
        count(*) filter (where categorie_sortie <> 'NEUTRE') as nb_sorties_hors_neutre,
        count(*) filter (where categorie_sortie not in ('SANS_SOLUTION', 'NEUTRE')) as nb_sorties_positives,
        count(*) filter (where categorie_sortie = 'EMPLOI_DURABLE') as nb_sorties_emploi_durable,
        count(*) filter (where rupture) as nb_ruptures,
        count(*) filter (where dans_denominateur_rupture) as nb_sorties_denominateur_rupture,
        count(*) filter (where situation_6_mois is not null) as nb_situations_observees
        {%- for situation in situations %},
        count(*) filter (where situation_6_mois = '{{ situation }}') as nb_situation_{{ situation | lower }}
        {%- endfor %}
{%- endset -%}
{%- set aid_aggregates -%}
        count(distinct person_id) as nb_beneficiaires,
        count(*) as nb_decisions,
        sum(montant) as montant_total,
        median(montant) as montant_median
{%- endset -%}

{#- The same aggregates as long rows: (code, value, numerator, denominator). -#}
{%- set presence_indicators = [
    ('ENTRANTS', 'nb_entrants', 'nb_entrants', 'null'),
    ('PRESENTS_PERIODE', 'nb_presents', 'nb_presents', 'null'),
    ('PRESENTS_FIN_PERIODE', 'nb_presents_fin', 'nb_presents_fin', 'null'),
] -%}
{%- set exit_indicators = [
    ('SORTIES', 'nb_sorties', 'nb_sorties', 'null'),
    ('DUREE_MEDIANE_SORTIES', 'duree_mediane_jours', 'null', 'nb_sorties'),
    ('TAUX_SORTIES_POSITIVES', 'nb_sorties_positives / nullif(nb_sorties_hors_neutre, 0)', 'nb_sorties_positives', 'nb_sorties_hors_neutre'),
    ('TAUX_SORTIES_EMPLOI_DURABLE', 'nb_sorties_emploi_durable / nullif(nb_sorties_hors_neutre, 0)', 'nb_sorties_emploi_durable', 'nb_sorties_hors_neutre'),
    ('TAUX_RUPTURE', 'nb_ruptures / nullif(nb_sorties_denominateur_rupture, 0)', 'nb_ruptures', 'nb_sorties_denominateur_rupture'),
] -%}
{%- for situation in situations -%}
  {%- do exit_indicators.append((
      'SITUATION_6_MOIS_' ~ situation,
      'nb_situation_' ~ (situation | lower) ~ ' / nullif(nb_situations_observees, 0)',
      'nb_situation_' ~ (situation | lower),
      'nb_situations_observees')) -%}
{%- endfor -%}
{%- set aid_indicators = [
    ('BENEFICIAIRES_AIDES', 'nb_beneficiaires', 'nb_beneficiaires', 'null'),
    ('DECISIONS_AIDES', 'nb_decisions', 'nb_decisions', 'null'),
    ('MONTANT_TOTAL_AIDES', 'montant_total', 'montant_total', 'nb_decisions'),
    ('MONTANT_MEDIAN_AIDES', 'montant_median', 'null', 'nb_decisions'),
] -%}
{%- set families = [
    ('presences', presence_aggregates, presence_indicators),
    ('sorties', exit_aggregates, exit_indicators),
    ('aides', aid_aggregates, aid_indicators),
] -%}

with cutoff as (
    select date_coupure from {{ ref('int_observation_cutoff') }} where perimetre = 'GLOBAL'
),

years as (
    select cast(y.annee as integer) as annee
    from cutoff
    cross join generate_series({{ first_year }}, extract(year from cutoff.date_coupure)) as y(annee)
),

-- Calendar years and quarters that end by the cut-off.
periods as (
    select periodicite, annee, trimestre, debut_periode, fin_periode
    from (
        select
            'annee' as periodicite, annee, 'TOTAL' as trimestre,
            make_date(annee, 1, 1) as debut_periode, make_date(annee, 12, 31) as fin_periode
        from years
        union all
        select
            'trimestre', annee, 'T' || q.trimestre,
            make_date(annee, 3 * q.trimestre - 2, 1), last_day(make_date(annee, 3 * q.trimestre, 1))
        from years
        cross join generate_series(1, 4) as q(trimestre)
    )
    where fin_periode <= (select date_coupure from cutoff)
),

-- Episodes in scope with their context at start (unknown values made explicit).
episodes as (
    select
        episode_id,
        person_id,
        collectivite,
        dispositif,
        coalesce(departement, 'INCONNU') as departement,
        coalesce(epci_siren, 'INCONNU') as epci_siren,
        coalesce(sexe, 'INCONNU') as sexe,
        coalesce(tranche_age, 'INCONNU') as tranche_age,
        public_brsa,
        public_jsq,
        date_debut,
        date_fin,
        categorie_sortie
    from {{ ref('int_episode_context') }}
    where entite <> 'plie_etapes'
        -- An episode ending before it starts is inconsistent: left out.
        and (date_fin is null or date_fin >= date_debut)
),

episode_publics as (
    select episode_id, 'BRSA' as public from episodes where public_brsa
    union all
    select episode_id, 'JSQ' from episodes where public_jsq
),

-- One row per episode and period it overlaps.
presence_rows as (
    select
        p.periodicite, p.annee, p.trimestre,
        e.episode_id, e.person_id,
        e.collectivite, e.dispositif, e.departement, e.epci_siren, e.sexe, e.tranche_age,
        e.date_debut between p.debut_periode and p.fin_periode as entree_periode,
        e.date_fin is null or e.date_fin >= p.fin_periode as present_fin_periode
    from episodes as e
    inner join periods as p
        on e.date_debut <= p.fin_periode
        and (e.date_fin is null or e.date_fin >= p.debut_periode)
),

-- Situation six months after each exit, when that date is observed by the cut-off.
exit_situation_points as (
    select distinct e.person_id, cast(e.date_fin + interval 6 month as date) as date_situation
    from episodes as e
    where e.date_fin is not null
        and cast(e.date_fin + interval 6 month as date) <= (select date_coupure from cutoff)
),

situations_6_months as (
    {{ situation_at('exit_situation_points') | indent(4) }}
),

-- One row per exit and period containing its end date.
exit_rows as (
    select
        p.periodicite, p.annee, p.trimestre,
        e.episode_id, e.person_id,
        e.collectivite, e.dispositif, e.departement, e.epci_siren, e.sexe, e.tranche_age,
        e.date_fin - e.date_debut as duree_jours,
        e.categorie_sortie,
        x.rupture,
        coalesce(x.dans_denominateur_rupture, false) as dans_denominateur_rupture,
        -- NEUTRE exits (and exits of unknown category) are left out of the shares.
        case when e.categorie_sortie <> 'NEUTRE' then s.situation end as situation_6_mois
    from episodes as e
    inner join periods as p on e.date_fin between p.debut_periode and p.fin_periode
    left join {{ ref('int_exits') }} as x on e.episode_id = x.episode_id
    left join situations_6_months as s
        on e.person_id = s.person_id
        and s.date_situation = cast(e.date_fin + interval 6 month as date)
),

-- Aid decisions with the person's context at the decision date.
persons as (
    select person_id, sexe, mois_naissance, niveau_diplome, departement, epci_siren
    from {{ ref('int_persons') }}
),

aid_decisions as (
    select
        v.event_id,
        v.person_id,
        v.collectivite,
        v.dispositif,
        v.date_evenement,
        v.montant,
        coalesce(p.departement, 'INCONNU') as departement,
        coalesce(p.epci_siren, 'INCONNU') as epci_siren,
        coalesce(p.sexe, 'INCONNU') as sexe,
        p.niveau_diplome,
        -- Birth is known to the month: full years are full months / 12 (as int_episode_context).
        cast(floor((
            12 * (extract(year from v.date_evenement) - extract(year from p.mois_naissance))
            + extract(month from v.date_evenement) - extract(month from p.mois_naissance)
        ) / 12.0) as integer) as age_decision
    from {{ ref('int_events') }} as v
    left join persons as p on v.person_id = p.person_id
    where v.famille_dispositif = 'AIDE'
),

aid_decisions_in_rsa_spell as (
    select distinct a.event_id
    from aid_decisions as a
    inner join {{ ref('int_episode_context') }} as r
        on a.person_id = r.person_id
        and r.dispositif = 'RSA'
        and r.date_debut <= a.date_evenement
        and (r.date_fin is null or r.date_fin >= a.date_evenement)
),

aid_decisions_after_psad as (
    select distinct a.event_id
    from aid_decisions as a
    inner join {{ ref('int_events') }} as t
        on a.person_id = t.person_id
        and t.dispositif = 'PSAD'
        and t.date_evenement <= a.date_evenement
        and t.date_evenement >= cast(a.date_evenement - interval 12 month as date)
),

aid_publics as (
    select event_id, 'BRSA' as public from aid_decisions_in_rsa_spell
    union all
    select a.event_id, 'JSQ'
    from aid_decisions as a
    left join aid_decisions_after_psad as t on a.event_id = t.event_id
    where coalesce(a.age_decision < 26 and a.niveau_diplome = 'infra3', false)
        or t.event_id is not null
),

aid_rows as (
    select
        p.periodicite, p.annee, p.trimestre,
        a.event_id, a.person_id,
        a.collectivite, a.dispositif, a.departement, a.epci_siren, a.sexe,
        case
            when a.age_decision is null then 'INCONNU'
            when a.age_decision < 26 then 'MOINS_26'
            when a.age_decision < 45 then '26_44'
            when a.age_decision < 55 then '45_54'
            else '55_PLUS'
        end as tranche_age,
        a.montant
    from aid_decisions as a
    inner join periods as p on a.date_evenement between p.debut_periode and p.fin_periode
),

-- The same rows once per public of their unit (publics are not exclusive).
presence_rows_par_public as (
    select r.*, ep.public
    from presence_rows as r
    inner join episode_publics as ep on r.episode_id = ep.episode_id
),

exit_rows_par_public as (
    select r.*, ep.public
    from exit_rows as r
    inner join episode_publics as ep on r.episode_id = ep.episode_id
),

aid_rows_par_public as (
    select r.*, ap.public
    from aid_rows as r
    inner join aid_publics as ap on r.event_id = ap.event_id
),

{% for family, aggregates, indicators in families %}
{%- set base = {'presences': 'presence_rows', 'sorties': 'exit_rows', 'aides': 'aid_rows'}[family] %}
{%- for variant, sets in grouping_sets.items() %}
{%- set grouped_dims = [] %}
{%- for set in sets %}{% for dim in set if dim not in grouped_dims %}{% do grouped_dims.append(dim) %}{% endfor %}{% endfor %}
{{ family }}_{{ variant }} as (
    select
        periodicite,
        annee,
        trimestre,
        {%- for dim in dims %}
        {%- if dim in grouped_dims %}
        case when grouping({{ dim }}) = 1 then 'TOTAL' else {{ dim }} end as {{ dim }},
        {%- else %}
        'TOTAL' as {{ dim }},
        {%- endif %}
        {%- endfor %}
        concat_ws(' x ', periodicite
            {%- for dim in dims if dim in grouped_dims -%}
            , case when grouping({{ dim }}) = 0 then '{{ dim }}' end
            {%- endfor %}) as niveau_agregation,
{{ aggregates }}
    from {{ base }}{{ '_par_public' if variant == 'par_public' }}
    group by grouping sets (
        {%- for set in sets %}
        (periodicite, annee, trimestre{% for dim in set %}, {{ dim }}{% endfor %}){{ ',' if not loop.last }}
        {%- endfor %}
    )
),
{% endfor %}

{{ family }}_long as (
    select
        periodicite, annee, trimestre, {{ dims | join(', ') }}, niveau_agregation,
        unnest([
            {%- for code, value, numerator, denominator in indicators %}
            {
                code_indicateur: '{{ code }}',
                valeur: cast({{ value }} as double),
                numerateur: cast({{ numerator }} as double),
                denominateur: cast({{ denominator }} as double)
            }{{ ',' if not loop.last }}
            {%- endfor %}
        ]) as indicateur
    from (
        {%- for variant in grouping_sets %}
        select * from {{ family }}_{{ variant }}
        {% if not loop.last %}union all by name{% endif %}
        {%- endfor %}
    )
),
{% endfor %}

grid as (
    {%- for family, aggregates, indicators in families %}
    select
        indicateur.code_indicateur,
        niveau_agregation,
        {{ dims | join(', ') }},
        annee,
        trimestre,
        indicateur.valeur,
        indicateur.numerateur,
        indicateur.denominateur
    from {{ family }}_long
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    md5(concat_ws('|', code_indicateur, niveau_agregation, collectivite, dispositif, annee,
        trimestre, departement, epci_siren, public, sexe, tranche_age)) as id_ligne,
    code_indicateur,
    niveau_agregation,
    collectivite,
    dispositif,
    annee,
    trimestre,
    departement,
    epci_siren,
    public,
    sexe,
    tranche_age,
    valeur,
    numerateur,
    denominateur,
    case
        when public <> 'TOTAL' then false
        when code_indicateur in ('ENTRANTS', 'PRESENTS_PERIODE', 'PRESENTS_FIN_PERIODE', 'BENEFICIAIRES_AIDES')
            then collectivite = 'TOTAL' and dispositif = 'TOTAL' and tranche_age = 'TOTAL'
        when code_indicateur in ('SORTIES', 'DECISIONS_AIDES', 'MONTANT_TOTAL_AIDES') then true
        else false
    end as additif
from grid
-- A value needs a non-empty denominator (rates, shares, medians).
where valeur is not null
