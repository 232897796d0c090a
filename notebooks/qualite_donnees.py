import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Qualité des données")

with app.setup:
    import altair as alt
    import marimo as mo
    import polars as pl
    from shared import (
        collectivity_names,
        in_french,
        open_publication,
        publication_folder,
        read_manifest,
        shown,
    )

    ROW_COUNTS = {
        "lignes_lues": "Lignes lues",
        "lignes_integrees": "Intégrées",
        "lignes_quarantaine": "En quarantaine",
        "lignes_remplacees": "Remplacées",
        "lignes_opposition": "Opposition",
    }
    LINKAGE = {
        "enregistrements": ("Enregistrements rapprochés", None),
        "personnes": ("Personnes distinctes", None),
        "personnes_connues_2_collectivites_ou_plus": (
            "Personnes connues de deux collectivités ou plus",
            "personnes",
        ),
        "enregistrements_avec_pseudo_nir": ("Enregistrements avec pseudo-NIR", "enregistrements"),
        "enregistrements_sans_pseudo_nir": ("Enregistrements sans pseudo-NIR", "enregistrements"),
        "cles_ec_ambigues": ("Clés d'état civil ambiguës (homonymes)", None),
        "enregistrements_cle_ec_ambigue": (
            "Enregistrements à clé d'état civil ambiguë",
            "enregistrements",
        ),
        "etapes_plie_sans_parcours": ("Étapes PLIE sans parcours", None),
    }


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Qualité des données, source par source

    Chaque collectivité dépose des extraits datés. À chaque chargement, chaque ligne lue est
    **intégrée**, mise **en quarantaine** (elle ne respecte pas le contrat de la source),
    **remplacée** (une version plus récente de la même ligne figure dans l'extrait) ou écartée
    pour **opposition** (la personne s'est opposée au traitement). Un extrait entier est
    **refusé** quand il enfreint une règle de l'extrait entier (fichier manquant, colonne
    attendue absente…) : rien n'en est chargé.

    Ce carnet lit l'historique des chargements (`qualite.chargements`) et le rapport de
    rapprochement des personnes de la publication générale (`spifeb.duckdb`, en lecture seule) :
    des nombres de lignes, pas de données individuelles.
    """)
    return


@app.cell
def _():
    folder = publication_folder(mo.cli_args())
    published = open_publication(folder)
    manifest = read_manifest(folder)
    names = collectivity_names()
    loads = published.sql("select * from qualite.chargements").pl()
    mo.md(
        f"Publication **{manifest.get('id_publication', folder.name)}** du "
        f"{manifest.get('date_publication', '?')[:10]} (`{folder}`) : {loads.height} fichiers "
        f"chargés ou extraits refusés, du {loads['date_extraction'].min()} au "
        f"{loads['date_extraction'].max()}."
    )
    return loads, manifest, names, published


@app.function
def per_extract(loads: pl.DataFrame) -> pl.DataFrame:
    """One row per source, extract date and outcome (`intégré` or `refusé`): rows read,
    landed, quarantined, superseded and objected to over the extract's files, and the share
    of rows read that went to quarantine."""
    return (
        loads.group_by("source", "date_extraction", "statut")
        .agg(pl.col(*ROW_COUNTS).sum(), fichiers=pl.col("fichier").count())
        .with_columns(
            taux_quarantaine=pl.when(pl.col("lignes_lues") > 0).then(
                pl.col("lignes_quarantaine") / pl.col("lignes_lues")
            )
        )
        .sort("source", "date_extraction", "statut")
    )


@app.function
def per_source(extracts: pl.DataFrame) -> pl.DataFrame:
    """One row per source: extracts landed and refused, first and latest extract date, rows
    over all landed extracts and the share of them quarantined."""
    landed = pl.col("statut") == "intégré"
    return (
        extracts.group_by("source")
        .agg(
            *[pl.col(c).filter(landed).sum() for c in ROW_COUNTS],
            extraits_integres=landed.sum(),
            extraits_refuses=(~landed).sum(),
            premier_extrait=pl.col("date_extraction").filter(landed).min(),
            dernier_extrait=pl.col("date_extraction").filter(landed).max(),
        )
        .with_columns(
            taux_quarantaine=pl.when(pl.col("lignes_lues") > 0).then(
                pl.col("lignes_quarantaine") / pl.col("lignes_lues")
            )
        )
        .sort("source")
    )


@app.cell
def _(loads, names):
    extracts = per_extract(loads).with_columns(
        pl.col("source").replace_strict(names, default=pl.col("source")).alias("nom")
    )
    _sources = per_source(extracts).with_columns(
        pl.col("source").replace_strict(names, default=pl.col("source")).alias("nom"),
        pl.col("premier_extrait", "dernier_extrait").dt.strftime("%d/%m/%Y"),
    )
    mo.vstack(
        [
            mo.md("## Vue d'ensemble par source"),
            shown(
                _sources,
                {
                    "nom": "Source",
                    "extraits_integres": "Extraits intégrés",
                    "extraits_refuses": "Extraits refusés",
                    "premier_extrait": "Premier extrait",
                    "dernier_extrait": "Dernier extrait",
                    **ROW_COUNTS,
                    "taux_quarantaine": "Taux de quarantaine",
                },
                percent=["taux_quarantaine"],
            ),
        ]
    )
    return (extracts,)


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Au fil des extraits

    Part des lignes lues mises en quarantaine, extrait par extrait (date d'extraction), puis le
    volume de lignes lues : une chute soudaine ou une quarantaine qui grimpe signale un
    changement chez la source à examiner avec elle.
    """)
    return


@app.cell
def _(extracts):
    _landed = extracts.filter(pl.col("statut") == "intégré")
    _base = alt.Chart(_landed).encode(
        x=alt.X("date_extraction:T", title="Date d'extraction", axis=alt.Axis(format="%b %Y")),
        color=alt.Color("nom:N", title="Source"),
    )
    _tooltip = [
        alt.Tooltip("nom:N", title="Source"),
        alt.Tooltip("date_extraction:T", title="Extrait du", format="%d/%m/%Y"),
        alt.Tooltip("lignes_lues:Q", title="Lignes lues", format=",d"),
        alt.Tooltip("lignes_quarantaine:Q", title="En quarantaine", format=",d"),
        alt.Tooltip("taux_quarantaine:Q", title="Taux de quarantaine", format=".2%"),
    ]
    _rate = (
        _base.mark_line(point=True)
        .encode(
            y=alt.Y(
                "taux_quarantaine:Q",
                title="Part des lignes en quarantaine",
                axis=alt.Axis(format="%"),
            ),
            tooltip=_tooltip,
        )
        .properties(width=620, height=220, title="Taux de quarantaine par extrait")
    )
    _volume = (
        _base.mark_line(point=True)
        .encode(
            y=alt.Y("lignes_lues:Q", title="Lignes lues", axis=alt.Axis(format=",d")),
            tooltip=_tooltip,
        )
        .properties(width=620, height=220, title="Lignes lues par extrait")
    )
    in_french(alt.vconcat(_rate, _volume))
    return


@app.cell
def _(extracts, names):
    source_choice = mo.ui.dropdown(
        {names.get(s, s): s for s in extracts["source"].unique().sort()},
        value=names.get(extracts["source"].min(), extracts["source"].min()),
        label="Source détaillée",
    )
    mo.hstack([source_choice], justify="start")
    return (source_choice,)


@app.cell
def _(extracts, loads, source_choice):
    _detail = extracts.filter(pl.col("source") == source_choice.value).with_columns(
        pl.col("date_extraction").dt.strftime("%d/%m/%Y").alias("date")
    )
    _by_entity = (
        loads.filter((pl.col("source") == source_choice.value) & (pl.col("statut") == "intégré"))
        .group_by("entite")
        .agg(pl.col(*ROW_COUNTS).sum(), extraits=pl.col("date_extraction").n_unique())
        .with_columns(
            taux_quarantaine=pl.when(pl.col("lignes_lues") > 0).then(
                pl.col("lignes_quarantaine") / pl.col("lignes_lues")
            )
        )
        .sort("entite")
    )
    mo.vstack(
        [
            mo.md(f"### {source_choice.selected_key} : par fichier (entité), tous extraits"),
            shown(
                _by_entity,
                {
                    "entite": "Entité",
                    "extraits": "Extraits",
                    **ROW_COUNTS,
                    "taux_quarantaine": "Taux de quarantaine",
                },
                percent=["taux_quarantaine"],
            ),
            mo.md("### Extrait par extrait"),
            shown(
                _detail,
                {
                    "date": "Date d'extraction",
                    "statut": "Statut",
                    "fichiers": "Fichiers",
                    **ROW_COUNTS,
                    "taux_quarantaine": "Taux de quarantaine",
                },
                percent=["taux_quarantaine"],
            ),
        ]
    )
    return


@app.cell
def _(loads, names):
    _refused = (
        loads.filter(pl.col("statut") == "refusé")
        .with_columns(
            pl.col("source").replace_strict(names, default=pl.col("source")).alias("nom"),
            pl.col("date_extraction").dt.strftime("%d/%m/%Y"),
            pl.col("debut_chargement").dt.strftime("%d/%m/%Y %H:%M"),
        )
        .sort("debut_chargement")
    )
    mo.vstack(
        [
            mo.md(
                f"## Extraits refusés : {_refused.height}\n\n"
                "Un extrait refusé n'est pas chargé du tout : la source doit le déposer à "
                "nouveau, corrigé. Les motifs du refus sont dans son rapport de refus, dans le "
                "lac : `lake/rejected/<source>/<date d'extraction>/<identifiant>.txt`."
            ),
            shown(
                _refused,
                {
                    "nom": "Source",
                    "date_extraction": "Date d'extraction",
                    "debut_chargement": "Tentative de chargement",
                    "id_chargement": "Identifiant de chargement",
                },
            )
            if _refused.height
            else mo.md("Aucun extrait refusé.").callout(kind="success"),
        ]
    )
    return


@app.function
def linkage_table(report: pl.DataFrame) -> pl.DataFrame:
    """The one-row linkage report as a French two-column table, with each count's share of
    the records or persons it is part of."""
    row = report.row(0, named=True)
    return pl.DataFrame(
        [
            {
                "Mesure": label,
                "Nombre": f"{row[column]:,}".replace(",", "\u202f"),
                "Part": (
                    f"{100 * row[column] / row[base]:.1f}\u202f% des {base}".replace(".", ",")
                    if base and row[base]
                    else ""
                ),
            }
            for column, (label, base) in LINKAGE.items()
            if column in row
        ]
    )


@app.cell
def _(published):
    mo.vstack(
        [
            mo.md(r"""
            ## Rapprochement des personnes

            Les enregistrements des sources sont rapprochés en personnes par le pseudo-NIR, ou à
            défaut par une clé d'état civil ; une clé partagée par des homonymes est ambiguë et
            n'est pas utilisée. Une étape PLIE dont le parcours a disparu de la source n'a pas
            de personne.
            """),
            linkage_table(published.sql("select * from marts.rapport_rapprochement").pl()),
        ]
    )
    return


@app.cell
def _(manifest, names):
    _used = pl.DataFrame(
        manifest.get("extraits", []),
        schema={
            "source": pl.String,
            "date_extraction": pl.String,
            "entite": pl.String,
            "fichier": pl.String,
        },
    ).with_columns(pl.col("source").replace_strict(names, default=pl.col("source")))
    mo.accordion(
        {
            f"Extraits utilisés par cette publication ({_used.height} fichiers)": _used.rename(
                {
                    "source": "Source",
                    "date_extraction": "Date d'extraction",
                    "entite": "Entité",
                    "fichier": "Fichier",
                }
            )
        }
    )
    return


if __name__ == "__main__":
    app.run()
