"""Charts of the publication's report: small pure functions, a published (suppressed) polars frame
in, an Altair chart out, and `to_svg` to inline them in the HTML page.

Suppressed values are null in the published tables: they are never plotted (a line breaks at a
null) and never replaced by zero. All text is French; numbers follow French conventions.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence

import altair as alt
import polars as pl
import vl_convert

# Rendering options shared by every chart (passed to vl-convert, not stored in the specs).
CONFIG = {
    "font": "sans-serif",
    # Browsers' sans-serif may be wider than the font vl-convert measures text with: leave room.
    "padding": {"left": 24, "right": 24, "top": 6, "bottom": 6},
    "view": {"stroke": "#d0d0d0"},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal",
             "gridColor": "#ececec"},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "labelLimit": 360, "orient": "bottom",
               "direction": "vertical", "columns": 2, "columnPadding": 24},
    "title": {"fontSize": 13, "anchor": "start", "subtitleFontSize": 11, "subtitleColor": "#555"},
    "header": {"labelFontSize": 11, "labelLimit": 270, "labelAnchor": "start",
               "labelFontWeight": "bold"},
    "line": {"strokeWidth": 2},
    "point": {"size": 36, "filled": True},
}  # fmt: skip

SITUATIONS = {
    "EMPLOI": "Emploi",
    "FORMATION": "Formation",
    "ACCOMPAGNEMENT": "Accompagnement",
    "RSA": "RSA seulement",
    "INCONNUE": "Situation inconnue",
}
SITUATION_COLOURS = ["#1b7837", "#2166ac", "#f1a340", "#b2182b", "#8c8c8c"]
EVENTS = {
    "SORTIE_RSA": "Sortie du RSA : part encore au RSA",
    "PREMIER_EMPLOI": "Premier emploi : part encore sans emploi",
}
COHORT = ["dispositif", "collectivite", "annee_entree", "trimestre_entree"]


def to_svg(chart: alt.TopLevelMixin, id_prefix: str) -> str:
    """The chart as an SVG string, offline (no URL may be fetched), French number formats.

    Several SVGs share one HTML page, so element ids (clip paths, gradients) get a prefix.
    Altair's 5,000-row guard is lifted: it protects browsers from huge inline datasets, but here
    the data never reach the page, only the drawn SVG does (a Kaplan-Meier curve of a large
    cohort has a step per day)."""
    with alt.data_transformers.enable("default", max_rows=None):
        spec = chart.to_dict()
    svg = vl_convert.vegalite_to_svg(
        spec, config=CONFIG, format_locale="fr-FR", time_format_locale="fr-FR",
        allowed_base_urls=[],
    )  # fmt: skip
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for old in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{old}"', f'id="{id_prefix}-{old}"')
        svg = svg.replace(f"url(#{old})", f"url(#{id_prefix}-{old})")
    return svg


def no_data(message: str, width: int = 520) -> alt.Chart:
    """A small placeholder panel when every value of a chart is suppressed or absent."""
    lines = textwrap.wrap(message, width=max(20, width // 7))
    return (
        alt.Chart(pl.DataFrame({"texte": ["\n".join(lines)]}))
        .mark_text(fontSize=12, color="#555", align="center", lineBreak="\n")
        .encode(text="texte:N")
        .properties(width=width, height=max(60, 18 * len(lines) + 20))
    )


def best_cohorts(
    frame: pl.DataFrame, value: str, size: str, groups: Sequence[str], limit: int
) -> pl.DataFrame:
    """Rows of the best-documented cohort (`COHORT` columns) of each group, for at most `limit`
    groups (a subset of the cohort columns), with their rank `_rang`.

    A cohort ranks by its number of published values of `value`, then by its size (largest
    `size`), then by recency; groups rank by their best cohort. At full scale every cohort is
    published and the largest one is shown; on small data, the one that says the most.
    """
    scores = (
        frame.group_by(COHORT)
        .agg(pl.col(value).is_not_null().sum().alias("_publies"), pl.col(size).max().alias("_taille"))
        .filter(pl.col("_publies") > 0)
        .sort(["_publies", "_taille", "annee_entree", "trimestre_entree", "dispositif",
               "collectivite"], descending=[True, True, True, True, False, False], nulls_last=True)
        .unique(list(groups), keep="first", maintain_order=True)
        .head(limit)
        .with_row_index("_rang")
    )  # fmt: skip
    return frame.join(scores.select(*COHORT, "_rang"), on=COHORT, maintain_order="left")


def cohort_situations(frame: pl.DataFrame, panels: int = 9) -> alt.FacetChart | alt.Chart:
    """Share of each situation at 3 to 36 months after entry, one panel per dispositif and
    collectivity (its best-documented quarterly cohort, all publics).

    `frame`: `marts.cohortes_agregees` rows of one public, with `libelle_dispositif` and
    `libelle_collectivite` columns."""
    if frame.is_empty():
        return no_data("Aucune cohorte publiée.")
    chosen = best_cohorts(frame, "part", "membres", ["dispositif", "collectivite"], panels)
    if chosen.is_empty():
        return no_data("Aucune part publiable : toutes les cohortes sont sous secret statistique.")
    data = chosen.with_columns(
        pl.col("situation").replace_strict(SITUATIONS, default=pl.col("situation")),
        pl.format("{}|{} · entrée {} T{} · {} pers.", "libelle_dispositif",
                  "libelle_collectivite", "annee_entree", "trimestre_entree", "membres")
        .alias("cohorte"),
    ).select("cohorte", "_rang", "horizon_mois", "situation", "part")  # fmt: skip
    data = data.sort("_rang", "situation", "horizon_mois")  # the same page for the same data
    return (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("horizon_mois:Q", title="Mois après l'entrée",
                    scale=alt.Scale(domain=[0, 36]), axis=alt.Axis(values=[3, 6, 12, 18, 24, 36])),
            y=alt.Y("part:Q", title="Part des personnes observées",
                    scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%", tickCount=5)),
            color=alt.Color("situation:N", title="Situation",
                            scale=alt.Scale(domain=list(SITUATIONS.values()),
                                            range=SITUATION_COLOURS)),
        )
        .properties(width=270, height=150)
        .facet(facet=alt.Facet("cohorte:N", title=None, sort=alt.SortField("_rang"),
                               header=alt.Header(labelExpr="split(datum.label, '|')")),
               columns=3, spacing={"row": 30, "column": 30})
    )  # fmt: skip


def survival_curves(frame: pl.DataFrame, curves: int = 6) -> alt.VConcatChart | alt.Chart:
    """Kaplan–Meier curves with their 95 % Greenwood interval, one panel per event, the
    best-documented cohort of each dispositif and collectivity.

    `frame`: `marts.survie_km` rows of one public, with label columns as above. A curve stops
    where fewer persons than the threshold remain at risk (the rest is suppressed)."""
    if frame.is_empty():
        return no_data("Aucune courbe de survie publiable (secret statistique).")
    panels = []
    for event, title in EVENTS.items():
        rows = frame.filter(pl.col("evenement") == event)
        chosen = best_cohorts(rows, "survie", "a_risque", ["dispositif", "collectivite"], curves)
        chosen = chosen.filter(pl.col("survie").is_not_null())
        if chosen.is_empty():
            panels.append(no_data(f"{title} : aucune courbe publiable (secret statistique)."))
            continue
        label = pl.format("{} · {} · entrée {} T{}", "libelle_dispositif", "libelle_collectivite",
                          "annee_entree", "trimestre_entree").alias("cohorte")  # fmt: skip
        curves_ = chosen.select(label, "_rang", "duree_jours", "survie", "ic95_bas", "ic95_haut")
        start = curves_.unique("cohorte", maintain_order=True).with_columns(
            duree_jours=pl.lit(0, curves_["duree_jours"].dtype),
            survie=pl.lit(1.0), ic95_bas=pl.lit(1.0), ic95_haut=pl.lit(1.0),
        )  # fmt: skip
        data = pl.concat([start, curves_]).sort("_rang", "duree_jours", maintain_order=True)
        base = alt.Chart(data).encode(
            x=alt.X("duree_jours:Q", title="Jours depuis l'entrée"),
            color=alt.Color(
                "cohorte:N",
                title="Cohorte",
                sort=alt.SortField("_rang"),
                legend=alt.Legend(
                    orient="right",
                    columns=1,
                    symbolType="stroke",
                    symbolOpacity=1,
                    symbolStrokeWidth=3,
                ),
            ),
        )
        band = base.mark_area(interpolate="step-after", opacity=0.15).encode(
            y=alt.Y("ic95_bas:Q"), y2="ic95_haut:Q"
        )
        line = base.mark_line(interpolate="step-after").encode(
            y=alt.Y("survie:Q", title="Part (Kaplan–Meier)", scale=alt.Scale(domain=[0, 1]),
                    axis=alt.Axis(format=".0%", tickCount=5)),
        )  # fmt: skip
        panels.append((band + line).properties(width=480, height=220, title=title))
    return alt.vconcat(*panels, spacing=28).resolve_scale(color="independent")


def rsa_orientation(frame: pl.DataFrame) -> alt.HConcatChart | alt.Chart:
    """RSA orientation by département and year: median and mean delay between the opening of
    the right and the orientation (days), and share of rights oriented within 30 days.

    `frame`: `marts.rsa_indicateurs` with a `libelle_collectivite` column."""
    if frame.is_empty():
        return no_data("Aucun indicateur RSA publié.")
    measures = {
        "rsa_delai_orientation_median": ("Délai médian d'orientation", "Jours", ",.0f"),
        "rsa_delai_orientation_moyen": ("Délai moyen d'orientation", "Jours", ",.0f"),
        "rsa_part_orientes_30j": ("Part des droits orientés en 30 jours", "Part", ".0%"),
    }
    frame = frame.sort("libelle_collectivite", "annee")
    panels = []
    for column, (title, axis_title, fmt) in measures.items():
        data = frame.select("annee", "libelle_collectivite", pl.col(column).alias("valeur"))
        if data["valeur"].is_null().all():
            panels.append(no_data("Toutes les valeurs sont sous secret statistique.", 230)
                          .properties(title=title, height=180))  # fmt: skip
            continue
        y_scale = alt.Scale(domain=[0, 1]) if fmt.endswith("%") else alt.Scale(zero=True)
        panels.append(
            alt.Chart(data)
            .mark_line(point=True)
            .encode(
                x=alt.X("annee:O", title="Année", axis=alt.Axis(labelAngle=0)),
                y=alt.Y("valeur:Q", title=axis_title, scale=y_scale, axis=alt.Axis(format=fmt)),
                color=alt.Color("libelle_collectivite:N", title="Département"),
            )
            .properties(width=230, height=180, title=title)
        )  # fmt: skip
    return alt.hconcat(*panels, spacing=24)


def esf_financing(frame: pl.DataFrame) -> alt.LayerChart | alt.Chart:
    """Eligible cost of ESF-cofinanced operations by collectivity, split into the ESF amount and
    other funding, labelled with the ESF share (all dispositifs, programmes and years).

    `frame`: `marts.fse_synthese` with a `libelle_collectivite` column."""
    if frame.is_empty():
        return no_data("Aucune opération cofinancée par le FSE dans la publication.")
    totals = (
        frame.group_by("libelle_collectivite")
        .agg(pl.col("cout_total_eligible").sum(), pl.col("montant_fse").sum())
        .filter(pl.col("cout_total_eligible") > 0)
        .sort("libelle_collectivite")  # group_by's order varies: the same page for the same data
    )
    if totals.is_empty():
        return no_data("Aucune opération cofinancée par le FSE dans la publication.")
    order = totals.sort("cout_total_eligible", descending=True)["libelle_collectivite"].to_list()
    parts = totals.select(
        "libelle_collectivite",
        (pl.col("montant_fse") / 1000).alias("FSE"),
        ((pl.col("cout_total_eligible") - pl.col("montant_fse")) / 1000).alias(
            "Autres financements"
        ),
    ).unpivot(index="libelle_collectivite", variable_name="financement", value_name="milliers")
    labels = totals.select(
        "libelle_collectivite",
        (pl.col("cout_total_eligible") / 1000).alias("milliers"),
        (pl.col("montant_fse") / pl.col("cout_total_eligible")).alias("part_fse"),
    )
    y = alt.Y("libelle_collectivite:N", title=None, sort=order)
    bars = (
        alt.Chart(parts)
        .mark_bar()
        .encode(
            y=y,
            x=alt.X("milliers:Q", title="Coût total éligible (milliers d'euros)", stack="zero",
                    axis=alt.Axis(format=",.0f")),
            color=alt.Color("financement:N", title="Financement",
                            scale=alt.Scale(domain=["FSE", "Autres financements"],
                                            range=["#2166ac", "#c6dbef"])),
            order=alt.Order("financement:N", sort="descending"),
        )
    )  # fmt: skip
    text = (
        alt.Chart(labels)
        .mark_text(align="left", dx=6, fontSize=11)
        .encode(y=y, x="milliers:Q", text=alt.Text("part_fse:Q", format=".0%"))
    )
    return (bars + text).properties(width=560, height=alt.Step(26))


def load_totals(frame: pl.DataFrame) -> pl.DataFrame:
    """Per source, over every load so far: extracts landed, rows read, landed, quarantined,
    superseded and erased on opposition, extracts refused.

    `frame`: `qualite.chargements` (one row per landed file or refused extract)."""
    extracts = pl.col("id_chargement")
    return (
        frame.group_by("source")
        .agg(
            extracts.filter(pl.col("statut") == "intégré").n_unique().alias("extraits_integres"),
            pl.col("lignes_lues", "lignes_integrees", "lignes_quarantaine").sum(),
            pl.col("lignes_remplacees", "lignes_opposition").sum(),
            extracts.filter(pl.col("statut") == "refusé").n_unique().alias("extraits_refuses"),
        )
        .sort("source")
    )


def load_quality(frame: pl.DataFrame) -> alt.HConcatChart | alt.Chart:
    """Rows landed and quarantined and extracts refused, per source, over every load so far.

    `frame`: `qualite.chargements` (one row per landed file or refused extract)."""
    if frame.is_empty():
        return no_data("Aucun chargement enregistré.")
    totals = load_totals(frame)
    measures = {
        "lignes_integrees": ("Lignes intégrées", "#1b7837"),
        "lignes_quarantaine": ("Lignes en quarantaine", "#f1a340"),
        "extraits_refuses": ("Extraits refusés", "#b2182b"),
    }
    panels = []
    for i, (column, (title, colour)) in enumerate(measures.items()):
        top = max(1, totals[column].max() or 0)  # a scale from 0 to 0 draws nothing readable
        bars = (
            alt.Chart(totals.select("source", pl.col(column).alias("valeur")))
            .mark_bar(color=colour)
            .encode(
                y=alt.Y("source:N", title="Source" if i == 0 else None, sort="ascending",
                        axis=alt.Axis(labels=i == 0, ticks=i == 0)),
                x=alt.X("valeur:Q", title=title, scale=alt.Scale(domain=[0, top]),
                        axis=alt.Axis(format=",d", tickMinStep=1, tickCount=min(5, top))),
            )
        )  # fmt: skip
        text = bars.mark_text(align="left", dx=4, fontSize=10).encode(
            text=alt.Text("valeur:Q", format=",d")
        )
        panels.append((bars + text).properties(width=180, height=alt.Step(20)))
    return alt.hconcat(*panels, spacing=16)
