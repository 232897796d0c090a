{#-
  ESF+ common indicators (Regulation (EU) 2021/1057, Annex I) that the exchanged data supports,
  by sex, per programme and collectivité with totals (CUBE): one row per indicator code and cell,
  `valeur` the number of participants, `denominateur` the population it is counted in
  (participants for output indicators, leavers for immediate results, leavers whose situation six
  months later is observed for EECR05). The indicators the data cannot support are listed in the
  seed fse_indicateurs_non_couverts.

  - Participant: a person in an operation (ESF convention): characteristics are those at the
    first entry into the operation, results those of the last exit, once every participation in
    the operation is closed (by the global cut-off).
  - Unemployed at entry: declared so by the source (Région `statut_entree` DE or DELD; PLIE
    public DELD). Départements' actions carry no employment status: their participants are not
    counted as unemployed (a lower bound).
  - Education level: the person's diploma level (2019 nomenclature): infra3 = ISCED 0-2;
    3 (CAP, BEP) and 4 (baccalauréat) = ISCED 3-4; 5 to 8 = ISCED 5-8.
  - Results upon leaving, from the exit reason: in education or training = FORMATION_QUALIFIANTE
    or FORMATION_NON_QUALIFIANTE; gaining a qualification = category QUALIFICATION; in
    employment = categories EMPLOI_DURABLE or EMPLOI_TRANSITION. Six months after leaving: the
    shared situation (macro situation_at) is EMPLOI, for leavers whose date six months later is
    by the global cut-off.
-#}
{%- set indicators = [
    ('EECO01', 'true', 'true'),
    ('EECO02', 'chomeur_entree', 'true'),
    ('EECO06', 'age_entree < 18', 'true'),
    ('EECO07', 'age_entree between 18 and 29', 'true'),
    ('EECO08', 'age_entree >= 55', 'true'),
    ('EECO09', "niveau_diplome = 'infra3'", 'true'),
    ('EECO10', "niveau_diplome in ('3', '4')", 'true'),
    ('EECO11', "niveau_diplome in ('5', '6', '7', '8')", 'true'),
    ('EECR02', "motif_sortie in ('FORMATION_QUALIFIANTE', 'FORMATION_NON_QUALIFIANTE')", 'sorti'),
    ('EECR03', "categorie_sortie = 'QUALIFICATION'", 'sorti'),
    ('EECR04', "categorie_sortie in ('EMPLOI_DURABLE', 'EMPLOI_TRANSITION')", 'sorti'),
    ('EECR05', "situation_6_mois = 'EMPLOI'", 'situation_6_mois is not null'),
] -%}

with cutoff as (
    select date_coupure from {{ ref('int_observation_cutoff') }} where perimetre = 'GLOBAL'
),

participations as (
    select
        e.collectivite,
        e.code_operation_fse as code_operation,
        e.person_id,
        e.episode_id,
        e.date_debut,
        e.date_fin,
        e.motif_sortie,
        e.categorie_sortie,
        coalesce(e.statut_entree in ('DE', 'DELD'), false)
            or coalesce(list_contains(e.publics_declares, 'DELD'), false) as chomeur_declare,
        c.age_debut,
        coalesce(c.sexe, 'INCONNU') as sexe,
        c.niveau_diplome
    from {{ ref('int_episodes') }} as e
    inner join {{ ref('int_episode_context') }} as c on e.episode_id = c.episode_id
    where e.code_operation_fse is not null
),

participations_ordered as (
    select
        *,
        row_number() over (
            partition by collectivite, code_operation, person_id order by date_debut, episode_id
        ) = 1 as premiere,
        row_number() over (
            partition by collectivite, code_operation, person_id
            order by date_fin desc nulls first, episode_id desc
        ) = 1 as derniere
    from participations
),

participants as (
    select
        p.collectivite,
        p.code_operation,
        p.person_id,
        any_value(p.sexe) as sexe,
        any_value(p.niveau_diplome) as niveau_diplome,
        any_value(p.age_debut) filter (where p.premiere) as age_entree,
        coalesce(bool_or(p.chomeur_declare) filter (where p.premiere), false) as chomeur_entree,
        -- Left once every participation is closed: the last exit is the participant's.
        case when count(p.date_fin) = count(*) then max(p.date_fin) end as date_sortie,
        any_value(p.motif_sortie) filter (where p.derniere) as motif_sortie_derniere,
        any_value(p.categorie_sortie) filter (where p.derniere) as categorie_sortie_derniere
    from participations_ordered as p
    group by p.collectivite, p.code_operation, p.person_id
),

leaving_points as (
    select distinct person_id, cast(date_sortie + interval 6 month as date) as date_situation
    from participants
    where date_sortie is not null
        and cast(date_sortie + interval 6 month as date) <= (select date_coupure from cutoff)
),

situations_6_months as (
    {{ situation_at('leaving_points') | indent(4) }}
),

participants_with_results as (
    select
        coalesce(o.programme, 'INCONNU') as programme,
        p.collectivite,
        p.sexe,
        p.chomeur_entree,
        p.age_entree,
        p.niveau_diplome,
        p.date_sortie is not null and p.date_sortie <= cutoff.date_coupure as sorti,
        case when p.date_sortie <= cutoff.date_coupure then p.motif_sortie_derniere end as motif_sortie,
        case when p.date_sortie <= cutoff.date_coupure then p.categorie_sortie_derniere end as categorie_sortie,
        s.situation as situation_6_mois
    from participants as p
    cross join cutoff
    left join {{ ref('fse_operations') }} as o
        on p.collectivite = o.collectivite and p.code_operation = o.code_operation
    left join situations_6_months as s
        on p.person_id = s.person_id
        and s.date_situation = cast(p.date_sortie + interval 6 month as date)
),

indicator_cells as (
    select
        case when grouping(programme) = 1 then 'TOTAL' else programme end as programme,
        case when grouping(collectivite) = 1 then 'TOTAL' else collectivite end as collectivite,
        case when grouping(sexe) = 1 then 'TOTAL' else sexe end as sexe,
        unnest([
            {%- for code, condition, population in indicators %}
            {
                code_indicateur: '{{ code }}',
                valeur: count(*) filter (where ({{ condition }}) and ({{ population }})),
                denominateur: count(*) filter (where {{ population }})
            }{{ ',' if not loop.last }}
            {%- endfor %}
        ]) as indicateur
    from participants_with_results
    group by cube (programme, collectivite, sexe)
)

select
    md5(concat_ws('|', c.indicateur.code_indicateur, c.programme, c.collectivite, c.sexe)) as id_ligne,
    c.indicateur.code_indicateur as code_indicateur,
    i.libelle,
    c.programme,
    c.collectivite,
    c.sexe,
    c.indicateur.valeur as valeur,
    c.indicateur.denominateur as denominateur
from indicator_cells as c
left join {{ ref('indicateurs') }} as i on c.indicateur.code_indicateur = i.code
