{#-
  Transition matrix: exits counted per exit year, dispositif left, next dispositif and window
  (3, 6, 12 months). The destination is the next dispositif, `AUCUN` when none starts within the
  window, `CENSURE` when the window ends after the cut-off; each exit is counted once per window.
-#}
{%- set windows = [3, 6, 12] -%}

with transitions as (
    select * from {{ ref('transitions') }}
),

exit_windows as (
{%- for months in windows %}
    select
        annee_sortie,
        dispositif as dispositif_origine,
        {{ months }} as fenetre_mois,
        case
            when censure_{{ months }}m then 'CENSURE'
            else coalesce(dispositif_suivant_{{ months }}m, 'AUCUN')
        end as dispositif_destination
    from transitions
    {% if not loop.last %}union all{% endif %}
{%- endfor %}
)

select
    md5(
        cast(annee_sortie as varchar) || '|' || dispositif_origine || '|' || dispositif_destination
        || '|' || cast(fenetre_mois as varchar)
    ) as cle_transition,
    annee_sortie,
    dispositif_origine,
    dispositif_destination,
    fenetre_mois,
    count(*) as sorties
from exit_windows
group by annee_sortie, dispositif_origine, dispositif_destination, fenetre_mois
