{#-
  Région training enrolments and their financing: one row per enrolment, with the ESF share of
  its financing (sum of the ESF lines over the sum of all lines of `financements`). An enrolment
  without any financing line (or whose lines sum to zero) has no share.
-#}
with enrolments as (
    select
        collectivite, inscription_id, dispositif as code_local, date_entree, date_sortie, financements
    from {{ ref('stg_reg53__stagiaires') }}
),

financing_lines as (
    select
        e.inscription_id,
        f.line.financeur as financeur,
        f.line.montant as montant,
        f.line.code_operation_fse as code_operation_fse
    from enrolments as e
    cross join unnest(e.financements) as f(line)
),

financing_per_enrolment as (
    select
        inscription_id,
        count(*) as nb_lignes_financement,
        coalesce(sum(montant), 0) as financement_total,
        coalesce(sum(montant) filter (where financeur = 'FSE'), 0) as financement_fse,
        min(code_operation_fse) filter (where financeur = 'FSE') as code_operation_fse
    from financing_lines
    group by inscription_id
),

fse_operations as (
    select code_operation, programme from {{ ref('stg_reg53__operations_fse') }}
)

select
    e.inscription_id,
    k.person_id,
    e.collectivite,
    d.dispositif,
    e.date_entree,
    e.date_sortie,
    cast(extract(year from e.date_entree) as integer) as annee_entree,
    f.code_operation_fse,
    o.programme,
    coalesce(f.nb_lignes_financement, 0) as nb_lignes_financement,
    coalesce(f.financement_total, 0) as financement_total,
    coalesce(f.financement_fse, 0) as financement_fse,
    case when f.financement_total > 0 then f.financement_fse / f.financement_total end as part_fse
from enrolments as e
left join financing_per_enrolment as f on e.inscription_id = f.inscription_id
left join {{ ref('int_person_keys') }} as k
    on e.collectivite = k.collectivite and k.entite = 'stagiaires' and e.inscription_id = k.record_id
left join {{ ref('dispositifs') }} as d on d.entite = 'stagiaires' and e.code_local = d.code_local
left join fse_operations as o on f.code_operation_fse = o.code_operation
