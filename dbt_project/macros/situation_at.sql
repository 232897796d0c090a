{#
  Situation of a person at a date t (convention definition; first match wins, dates inclusive
  at both ends):
    EMPLOI          in a PLIE employment step (EMPLOI_IAE, CONTRAT_AIDE, CDD_MOINS_6M,
                    CLAUSE_SOCIALE); or in a month with social-clause hours; or the last exit
                    before t (end date < t) had an employment outcome and no episode (of any
                    kind) started since (start date after that exit and up to t);
    FORMATION       in a Région training or a PLIE training step;
    ACCOMPAGNEMENT  in any other episode (RSA excepted);
    RSA             in an RSA spell only;
    INCONNUE        otherwise.
  When several exits share the latest end date, one employment outcome among them is enough.
  An open episode (no end date) is ongoing.

  `points` names a relation (CTE or table) with columns person_id and date_situation; the macro
  renders a query returning one row per distinct (person_id, date_situation) with `situation`.
  This is the single implementation used by the cohort and survival marts.
#}
{% macro situation_at(points) %}
{%- set is_active -%}
    e.date_debut <= p.date_situation and (e.date_fin is null or e.date_fin >= p.date_situation)
{%- endset -%}
with situation_points as (
    select distinct person_id, date_situation from {{ points }}
),

situation_episodes as (
    select
        person_id, episode_id, dispositif, famille_dispositif, date_debut, date_fin, categorie_sortie
    from {{ ref('int_episodes') }}
),

-- What the person's episodes say at the date: ongoing episodes by kind, latest exit and start.
episode_states_at_date as (
    select
        p.person_id,
        p.date_situation,
        max(case when e.dispositif in (
                'PLIE_ETAPE_EMPLOI_IAE', 'PLIE_ETAPE_CONTRAT_AIDE',
                'PLIE_ETAPE_CDD_MOINS_6M', 'PLIE_ETAPE_CLAUSE_SOCIALE'
            ) and {{ is_active }} then 1 else 0 end) as en_etape_emploi,
        max(case when (e.famille_dispositif = 'FORMATION_REGION' or e.dispositif = 'PLIE_ETAPE_FORMATION')
            and {{ is_active }} then 1 else 0 end) as en_formation,
        max(case when e.dispositif <> 'RSA' and {{ is_active }} then 1 else 0 end) as en_autre_episode,
        max(case when e.dispositif = 'RSA' and {{ is_active }} then 1 else 0 end) as en_rsa,
        max(case when e.date_fin < p.date_situation then e.date_fin end) as date_derniere_sortie,
        max(case when e.date_debut <= p.date_situation then e.date_debut end) as date_dernier_debut
    from situation_points as p
    left join situation_episodes as e on p.person_id = e.person_id
    group by p.person_id, p.date_situation
),

-- Whether the latest exit before the date had an employment outcome.
last_exit_outcomes as (
    select
        s.person_id,
        s.date_situation,
        max(case when e.categorie_sortie in ('EMPLOI_DURABLE', 'EMPLOI_TRANSITION')
            then 1 else 0 end) as derniere_sortie_emploi
    from episode_states_at_date as s
    inner join situation_episodes as e
        on s.person_id = e.person_id and e.date_fin = s.date_derniere_sortie
    group by s.person_id, s.date_situation
),

-- Dates falling in a month with social-clause hours.
clause_hours_months as (
    select distinct p.person_id, p.date_situation
    from situation_points as p
    inner join {{ ref('int_events') }} as v
        on p.person_id = v.person_id
        and v.dispositif = 'CLAUSE_SOCIALE'
        and v.heures > 0
        and v.date_evenement = cast(date_trunc('month', p.date_situation) as date)
)

select
    s.person_id,
    s.date_situation,
    case
        when s.en_etape_emploi = 1 then 'EMPLOI'
        when c.person_id is not null then 'EMPLOI'
        when coalesce(x.derniere_sortie_emploi, 0) = 1
            and s.date_dernier_debut <= s.date_derniere_sortie then 'EMPLOI'
        when s.en_formation = 1 then 'FORMATION'
        when s.en_autre_episode = 1 then 'ACCOMPAGNEMENT'
        when s.en_rsa = 1 then 'RSA'
        else 'INCONNUE'
    end as situation
from episode_states_at_date as s
left join last_exit_outcomes as x
    on s.person_id = x.person_id and s.date_situation = x.date_situation
left join clause_hours_months as c
    on s.person_id = c.person_id and s.date_situation = c.date_situation
{% endmacro %}
