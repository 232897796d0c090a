import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Fonds social européen")

with app.setup:
    import altair as alt
    import marimo as mo
    import polars as pl
    from shared import (
        as_text,
        collectivity_names,
        french_number,
        in_french,
        open_publication,
        publication_folder,
        read_manifest,
        shown,
    )

    PROGRAMMES = {
        "PO_FEDER_FSE_BRETAGNE_2014_2020": "PO FEDER-FSE Bretagne 2014-2020",
        "PON_FSE_2014_2020": "PON FSE 2014-2020",
        "PN_FSE_PLUS_2021_2027": "PN FSE+ 2021-2027",
        "PR_FEDER_FSE_PLUS_BRETAGNE_2021_2027": "PR FEDER-FSE+ Bretagne 2021-2027",
    }
    SEXES = {"TOTAL": "Ensemble", "1": "Hommes", "2": "Femmes", "INCONNU": "Sexe inconnu"}
    ALL = "TOTAL"


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Fonds social européen (FSE, FSE+)

    Les opérations cofinancées par le FSE, leurs participants, leur coût et la part du FSE dans
    leur financement, puis les **indicateurs communs** du règlement FSE+ que les données
    échangées permettent de calculer, et ceux qu'elles ne permettent pas.

    Ce carnet ne lit que la publication générale (`spifeb.duckdb`, en lecture seule) : des
    agrégats sous secret statistique. « s » : valeur masquée (moins de 11 personnes, ou secret
    secondaire).
    """)
    return


@app.cell
def _():
    folder = publication_folder(mo.cli_args())
    published = open_publication(folder)
    manifest = read_manifest(folder)
    names = collectivity_names()
    mo.md(
        f"Publication **{manifest.get('id_publication', folder.name)}** du "
        f"{manifest.get('date_publication', '?')[:10]} (`{folder}`)."
    )
    return names, published


@app.cell
def _(names, published):
    _programmes = [
        p
        for (p,) in published.sql(
            "select distinct programme from marts.fse_operations order by programme"
        ).fetchall()
    ]
    _collectivities = [
        c
        for (c,) in published.sql(
            "select distinct collectivite from marts.fse_operations order by collectivite"
        ).fetchall()
    ]
    programme_choice = mo.ui.dropdown(
        {"Tous les programmes": ALL} | {PROGRAMMES.get(p, p): p for p in _programmes},
        value="Tous les programmes",
        label="Programme",
    )
    collectivity_choice = mo.ui.dropdown(
        {"Toutes les collectivités": ALL} | {names.get(c, c): c for c in _collectivities},
        value="Toutes les collectivités",
        label="Collectivité",
    )
    mo.hstack([programme_choice, collectivity_choice], justify="start")
    return collectivity_choice, programme_choice


@app.function
def chosen(frame: pl.DataFrame, programme: str, collectivite: str) -> pl.DataFrame:
    """The rows of the chosen programme and collectivity (`TOTAL`: all of them)."""
    return frame.filter(
        (pl.lit(programme == ALL) | (pl.col("programme") == programme))
        & (pl.lit(collectivite == ALL) | (pl.col("collectivite") == collectivite))
    )


@app.function
def funding_summary(operations: pl.DataFrame) -> dict[str, float | int]:
    """Operations, total eligible cost, ESF amount, ESF share of the cost, and the participants
    of the operations whose count is published (and how many are masked)."""
    cost, esf = operations["cout_total_eligible"].sum(), operations["montant_fse"].sum()
    return {
        "operations": operations.height,
        "cout_total_eligible": cost,
        "montant_fse": esf,
        "taux_fse": esf / cost if cost else None,
        "participants_publies": operations["participants"].sum(),
        "operations_masquees": operations["participants"].null_count(),
    }


@app.cell
def _(collectivity_choice, names, programme_choice, published):
    operations = chosen(
        published.sql("select * from marts.fse_operations").pl(),
        programme_choice.value,
        collectivity_choice.value,
    ).with_columns(
        pl.col("collectivite").replace_strict(names, default=pl.col("collectivite")).alias("nom"),
        pl.col("programme").replace_strict(PROGRAMMES, default=pl.col("programme")),
    )
    summary = funding_summary(operations)
    return operations, summary


@app.cell(hide_code=True)
def _(summary):
    mo.md(f"""
    ## Les opérations

    {summary["operations"]} opérations. Coût par participant et montant FSE par participant
    ne sont calculés (« — » sinon) que pour une opération entièrement comprise entre le
    1er janvier 2018 et la date de coupure : sinon ses participants ne sont pas tous observés.
    """)
    return


@app.cell
def _(summary):
    mo.hstack(
        [
            mo.stat(
                french_number(summary["cout_total_eligible"]) + " €",
                label="Coût total éligible",
                bordered=True,
            ),
            mo.stat(
                french_number(summary["montant_fse"]) + " €", label="Montant FSE", bordered=True
            ),
            mo.stat(
                french_number(summary["taux_fse"], percent=True) or "—",
                label="Part du FSE dans le coût",
                bordered=True,
            ),
            mo.stat(
                french_number(summary["participants_publies"]),
                label="Participants (somme des opérations)",
                caption=f"hors {summary['operations_masquees']} opérations sous secret",
                bordered=True,
            ),
        ],
        widths="equal",
    )
    return


@app.cell
def _(operations):
    _table = shown(
        operations.sort("nom", "code_operation").with_columns(
            pl.col("date_debut", "date_fin").dt.strftime("%d/%m/%Y")
        ),
        {
            "code_operation": "Code",
            "intitule": "Intitulé",
            "nom": "Collectivité",
            "programme": "Programme",
            "date_debut": "Début",
            "date_fin": "Fin",
            "participants": "Participants",
            "cout_total_eligible": "Coût total éligible (€)",
            "montant_fse": "Montant FSE (€)",
            "taux_fse": "Taux FSE",
            "cout_par_participant": "Coût par participant (€)",
            "fse_par_participant": "FSE par participant (€)",
        },
        percent=["taux_fse"],
    )
    _chart = (
        alt.Chart(operations)
        .mark_bar()
        .encode(
            x=alt.X(
                "taux_fse:Q",
                title="Part du FSE dans le coût total éligible",
                axis=alt.Axis(format="%"),
            ),
            y=alt.Y("code_operation:N", title="Opération", sort="-x"),
            color=alt.Color("programme:N", title="Programme"),
            tooltip=[
                alt.Tooltip("intitule:N", title="Opération"),
                alt.Tooltip("nom:N", title="Collectivité"),
                alt.Tooltip("taux_fse:Q", title="Taux FSE", format=".1%"),
                alt.Tooltip("montant_fse:Q", title="Montant FSE (€)", format=",.0f"),
            ],
        )
        .properties(width=520, title="Taux de cofinancement FSE par opération")
    )
    mo.vstack([_table, in_french(_chart)])
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Chaque année

    Coût éligible et montant FSE répartis au prorata des jours de chaque opération dans
    l'année ; participants entrés dans l'année (première entrée dans l'opération). Le total
    des participants d'une année est masqué dès qu'une de ses cellules publiées l'est.
    """)
    return


@app.cell
def _(collectivity_choice, programme_choice, published):
    _yearly = chosen(
        published.sql("select * from marts.fse_synthese").pl(),
        programme_choice.value,
        collectivity_choice.value,
    )
    # Participants of a masked cell are unknown: a year's total is published only if none is.
    yearly = (
        _yearly.group_by("annee")
        .agg(
            pl.col("cout_total_eligible", "montant_fse").sum(),
            participants=pl.col("participants").cast(pl.Int64).sum(),
            secret_statistique=pl.col("secret_statistique").any(),
        )
        .with_columns(
            taux_fse=pl.col("montant_fse") / pl.col("cout_total_eligible"),
            autres_financements=pl.col("cout_total_eligible") - pl.col("montant_fse"),
            participants=pl.when(pl.col("secret_statistique"))
            .then(None)
            .otherwise(pl.col("participants")),
        )
        .sort("annee")
    )
    _stacked = yearly.unpivot(
        on=["montant_fse", "autres_financements"],
        index="annee",
        variable_name="financement",
        value_name="montant",
    ).with_columns(
        pl.col("financement").replace_strict(
            {"montant_fse": "FSE", "autres_financements": "Autres financements"}
        )
    )
    _chart = (
        alt.Chart(_stacked)
        .mark_bar()
        .encode(
            x=alt.X("annee:O", title="Année", axis=alt.Axis(labelAngle=0)),
            y=alt.Y("montant:Q", title="Coût total éligible (€)", axis=alt.Axis(format=",.0f")),
            color=alt.Color("financement:N", title="Financement", sort=["FSE"]),
            order=alt.Order("financement:N", sort="descending"),
            tooltip=[
                alt.Tooltip("annee:O", title="Année"),
                alt.Tooltip("financement:N", title="Financement"),
                alt.Tooltip("montant:Q", title="Montant (€)", format=",.0f"),
            ],
        )
        .properties(width=520, title="Coût éligible des opérations FSE, dont FSE, par année")
    )
    mo.vstack(
        [
            in_french(_chart),
            shown(
                yearly.with_columns(pl.col("annee").cast(pl.String)),
                {
                    "annee": "Année",
                    "participants": "Participants entrés",
                    "cout_total_eligible": "Coût total éligible (€)",
                    "montant_fse": "Montant FSE (€)",
                    "taux_fse": "Taux FSE",
                },
                percent=["taux_fse"],
            ),
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Indicateurs communs FSE+

    Indicateurs communs de réalisation (EECO) et de résultat (EECR) de l'annexe I du règlement
    (UE) 2021/1057 : nombre de participants concernés, par sexe, et part dans la population de
    référence (participants pour les réalisations, sortants pour les résultats immédiats,
    sortants observés six mois après pour EECR05).
    """)
    return


@app.function
def indicator_grid(indicators: pl.DataFrame) -> pl.DataFrame:
    """One row per indicator: its value for each sex (as text, `s` when masked), the
    reference population and the share, both sexes together."""
    texts = indicators.with_columns(
        as_text(indicators, "valeur"),
        pl.col("sexe").replace_strict(SEXES, default=pl.col("sexe")),
    )
    by_sex = texts.pivot(on="sexe", index=["code_indicateur", "libelle"], values="valeur")
    total = indicators.filter(pl.col("sexe") == "TOTAL")
    total = total.with_columns(
        as_text(total, "denominateur").alias("Population de référence"),
        as_text(
            total.with_columns(part=pl.col("valeur") / pl.col("denominateur")),
            "part",
            percent=True,
        ).alias("Part"),
    ).select("code_indicateur", "Population de référence", "Part")
    return (
        by_sex.join(total, on="code_indicateur", how="left")
        .sort("code_indicateur")
        .select(
            pl.col("code_indicateur").alias("Code"),
            pl.col("libelle").alias("Indicateur"),
            *[s for s in SEXES.values() if s in by_sex.columns],
            "Population de référence",
            "Part",
        )
    )


@app.cell
def _(collectivity_choice, programme_choice, published):
    indicators = published.sql(
        """
        select code_indicateur, libelle, sexe, valeur, denominateur, secret_statistique
        from marts.fse_indicateurs_communs
        where programme = $programme and collectivite = $collectivite
        """,
        params={"programme": programme_choice.value, "collectivite": collectivity_choice.value},
    ).pl()
    _shares = indicators.filter((pl.col("sexe") == "TOTAL") & pl.col("valeur").is_not_null())
    _chart = (
        alt.Chart(_shares.with_columns(part=pl.col("valeur") / pl.col("denominateur")))
        .mark_bar()
        .encode(
            x=alt.X(
                "part:Q", title="Part de la population de référence", axis=alt.Axis(format="%")
            ),
            y=alt.Y("code_indicateur:N", title="Indicateur"),
            tooltip=[
                alt.Tooltip("libelle:N", title="Indicateur"),
                alt.Tooltip("valeur:Q", title="Participants"),
                alt.Tooltip("denominateur:Q", title="Population de référence"),
                alt.Tooltip("part:Q", title="Part", format=".1%"),
            ],
        )
        .properties(width=520, title="Indicateurs communs publiés (ensemble des sexes)")
    )
    mo.vstack([indicator_grid(indicators), in_french(_chart)]) if indicators.height else mo.md(
        "Aucun indicateur commun pour ce programme et cette collectivité (le programme n'y "
        "finance pas d'opération)."
    )
    return


@app.cell
def _(published):
    _missing = published.sql(
        "select code, libelle, raison from reference.fse_indicateurs_non_couverts order by code"
    ).fetchall()
    mo.md(
        "### Indicateurs que les données ne permettent pas de calculer\n\n"
        "Les autres indicateurs communs supposent des informations que les collectivités "
        "n'échangent pas :\n\n"
        + "\n".join(f"- **{code}** {label} : {reason}" for code, label, reason in _missing)
    )
    return


if __name__ == "__main__":
    app.run()
