import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="Étude de cohorte")

with app.setup:
    import altair as alt
    import marimo as mo
    import polars as pl
    from lifelines import KaplanMeierFitter
    from shared import (
        THRESHOLD,
        as_text,
        collectivity_names,
        in_french,
        mask_small_counts,
        open_publication,
        open_restricted,
        publication_folder,
        read_manifest,
        shown,
    )

    SITUATIONS = {
        "EMPLOI": "Emploi",
        "FORMATION": "Formation",
        "ACCOMPAGNEMENT": "Accompagnement",
        "RSA": "RSA",
        "INCONNUE": "Inconnue",
    }
    PUBLICS = {"TOUS": "Tous", "BRSA": "Bénéficiaires du RSA", "JSQ": "Jeunes sans qualification"}
    # The end of an RSA spell for these motifs says nothing about leaving RSA: censored.
    CENSORING_MOTIFS = ["DEMENAGEMENT", "DECES"]
    # The warehouse rounds its estimates to 10 decimals: a larger difference is not rounding.
    TOLERANCE = 1e-6
    COHORT_KEYS = ["collectivite", "annee_entree", "trimestre_entree", "public"]


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    # Étude de cohorte : les entrants d'une année

    Ce carnet suit les personnes **entrées dans un dispositif au cours d'une année** (le RSA par
    défaut) : taille de la cohorte, situation 3 à 36 mois après l'entrée, durée dans le RSA
    (Kaplan–Meier) et dispositifs rejoints à la sortie. Changez les paramètres ci-dessous : tout
    le carnet se recalcule.

    Il lit la publication en **lecture seule** : `spifeb.duckdb` (agrégats publiés, sous secret
    statistique) et `acces_restreint.duckdb` (parcours individuels pseudonymisés).

    /// attention | Accès restreint
    Les durées individuelles nécessaires à Kaplan–Meier ne figurent que dans le fichier à accès
    restreint : **ce carnet est réservé aux analystes habilités**. Il n'affiche que des
    agrégats ; les effectifs de 1 à 10 personnes sont masqués (« s »). Ces résultats restent
    internes : toute diffusion passe par la publication, qui applique aussi le secret
    secondaire.
    ///
    """)
    return


@app.cell
def _():
    folder = publication_folder(mo.cli_args())
    published = open_publication(folder)
    restricted = open_restricted(folder)
    manifest = read_manifest(folder)
    names = collectivity_names()
    dispositif_names = dict(
        published.sql(
            "select distinct dispositif, libelle_dispositif from reference.dispositifs"
        ).fetchall()
    )
    mo.md(
        f"Publication **{manifest.get('id_publication', folder.name)}** du "
        f"{manifest.get('date_publication', '?')[:10]} (`{folder}`)."
    )
    return dispositif_names, names, published, restricted


@app.cell(hide_code=True)
def _():
    mo.md(r"""
    ## Paramètres
    """)
    return


@app.cell
def _(dispositif_names, restricted):
    _available = [
        d
        for (d,) in restricted.sql(
            "select distinct dispositif from marts.cohortes_membres order by dispositif"
        ).fetchall()
    ]
    _chosen = mo.cli_args().get("dispositif", "RSA")
    dispositif_choice = mo.ui.dropdown(
        {dispositif_names.get(d, d): d for d in _available},
        value=dispositif_names.get(_chosen, _chosen),
        label="Dispositif",
    )
    public_choice = mo.ui.dropdown(
        {label: code for code, label in PUBLICS.items()},
        value=PUBLICS[mo.cli_args().get("public", "TOUS")],
        label="Public",
    )
    window_choice = mo.ui.dropdown(
        {"3 mois": 3, "6 mois": 6, "12 mois": 12}, value="6 mois", label="Fenêtre des transitions"
    )
    return dispositif_choice, public_choice, window_choice


@app.cell
def _(dispositif_choice, public_choice, restricted, window_choice):
    # By default, the latest year whose entrants are all observed 12 months after entry.
    _years = restricted.sql(
        """
        select annee_entree, bool_and(not censure) as observee_12_mois
        from marts.cohortes_membres
        where dispositif = $dispositif and horizon_mois = 12
        group by annee_entree
        order by annee_entree
        """,
        params={"dispositif": dispositif_choice.value},
    ).pl()
    _observed = _years.filter("observee_12_mois")["annee_entree"]
    _default = _observed.max() if not _observed.is_empty() else _years["annee_entree"].max()
    year_choice = mo.ui.dropdown(
        _years["annee_entree"].to_list(),
        value=mo.cli_args().get("annee", _default),
        label="Année d'entrée",
    )
    mo.hstack([dispositif_choice, year_choice, public_choice, window_choice], justify="start")
    return (year_choice,)


@app.cell
def _(dispositif_choice, public_choice, year_choice):
    dispositif = dispositif_choice.value
    year = int(year_choice.value)
    public = public_choice.value
    is_rsa = dispositif == "RSA"
    return dispositif, is_rsa, public, year


@app.cell(hide_code=True)
def _(dispositif, dispositif_names, public, year):
    mo.md(f"""
    ## La cohorte

    Membres : les personnes entrées dans **{dispositif_names.get(dispositif, dispositif)}** en
    **{year}** (public : {PUBLICS[public]}), comptées une fois par collectivité et
    suivies depuis leur première entrée de l'année. Pour le RSA, la collectivité est le
    département qui gère le droit.
    """)
    return


@app.function
def first_entries(members: pl.DataFrame) -> pl.DataFrame:
    """The annual cohort: the members' rows of each person's first entry of the year in each
    collectivity (the warehouse's cohorts are quarterly; a person may enter twice a year)."""
    first = (
        members.select("collectivite", "person_id", "episode_entree_id", "date_entree")
        .unique()
        .sort("date_entree", "episode_entree_id")
        .unique(subset=["collectivite", "person_id"], keep="first")
    )
    return members.join(first.select("episode_entree_id"), on="episode_entree_id", how="semi")


@app.function
def cohort_sizes(cohort: pl.DataFrame) -> pl.DataFrame:
    """Members per collectivity, small counts masked."""
    sizes = cohort.group_by("collectivite").agg(membres=pl.col("person_id").n_unique())
    return mask_small_counts(sizes.sort("collectivite"), ["membres"])


@app.function
def situation_shares(cohort: pl.DataFrame) -> pl.DataFrame:
    """Per collectivity, horizon and situation (every situation, zero included): members
    observed at the horizon, those in the situation and their share; small counts masked.
    Horizons at which nobody is observed yet (all censored) are left out."""
    observed = cohort.filter(~pl.col("censure"))
    totals = observed.group_by("collectivite", "horizon_mois").agg(
        observes=pl.col("person_id").n_unique()
    )
    counts = observed.group_by("collectivite", "horizon_mois", "situation").agg(
        effectif=pl.col("person_id").n_unique()
    )
    keys = ["collectivite", "horizon_mois", "situation"]
    shares = (
        totals.join(pl.DataFrame({"situation": list(SITUATIONS)}), how="cross")
        .join(counts, on=keys, how="left")
        .with_columns(pl.col("effectif").fill_null(0))
        .with_columns(
            part=pl.when(pl.col("observes") > 0).then(pl.col("effectif") / pl.col("observes"))
        )
    )
    return mask_small_counts(shares, ["observes", "effectif"], ["part"]).sort(keys)


@app.cell
def _(dispositif, public, restricted, year):
    # Person-level rows stay in this cell's frames: only aggregates are displayed.
    members = restricted.sql(
        """
        select collectivite, person_id, episode_entree_id, date_entree, horizon_mois,
            situation, censure
        from marts.cohortes_membres
        where dispositif = $dispositif and annee_entree = $year and public = $public
        """,
        params={"dispositif": dispositif, "year": year, "public": public},
    ).pl()
    cohort = first_entries(members)
    return (cohort,)


@app.cell
def _(cohort, dispositif, is_rsa, names, public, published, year):
    _sizes = cohort_sizes(cohort).with_columns(
        pl.col("collectivite").replace_strict(names, default=pl.col("collectivite")).alias("nom")
    )
    _columns = {"nom": "Collectivité", "membres": "Membres de la cohorte"}
    if is_rsa and public == "TOUS":
        # The published count of RSA entrants is the same population: a consistency check.
        _published = published.sql(
            "select collectivite, rsa_entrants, secret_statistique from marts.rsa_indicateurs "
            "where annee = $year",
            params={"year": year},
        ).pl()
        _sizes = _sizes.join(_published.drop("secret_statistique"), on="collectivite", how="left")
        _columns["rsa_entrants"] = "Entrants RSA publiés (RSA_ENTRANTS)"
    _persons = cohort["person_id"].n_unique()
    mo.vstack(
        [
            mo.md(
                f"**{_persons if _persons >= THRESHOLD else 's'}** personnes distinctes "
                f"entrées en {year}."
            ),
            shown(_sizes, _columns),
        ]
    ) if _persons else mo.md(f"Aucune entrée en {year} dans {dispositif}.")
    return


@app.cell(hide_code=True)
def _():
    mo.md(rf"""
    ## Situation après l'entrée

    Part des membres observés dans chaque situation, 3 à 36 mois après leur entrée (situation
    partagée de l'entrepôt : l'emploi l'emporte sur la formation, puis l'accompagnement, puis le
    RSA). Un horizon postérieur à la date de coupure est censuré : le membre sort du
    dénominateur. Les points absents sont masqués (moins de {THRESHOLD} personnes).
    """)
    return


@app.cell
def _(cohort, names):
    shares = situation_shares(cohort).with_columns(
        pl.col("collectivite").replace_strict(names, default=pl.col("collectivite")).alias("nom"),
        pl.col("situation").replace_strict(SITUATIONS).alias("libelle_situation"),
    )
    _chart = (
        alt.Chart(shares.filter(pl.col("part").is_not_null()))
        .mark_line(point=True)
        .encode(
            x=alt.X("horizon_mois:Q", title="Mois après l'entrée", scale=alt.Scale(domain=[0, 36])),
            y=alt.Y("part:Q", title="Part des membres observés", axis=alt.Axis(format="%")),
            color=alt.Color(
                "libelle_situation:N", title="Situation", sort=list(SITUATIONS.values())
            ),
            tooltip=[
                alt.Tooltip("nom:N", title="Collectivité"),
                alt.Tooltip("horizon_mois:Q", title="Horizon (mois)"),
                alt.Tooltip("libelle_situation:N", title="Situation"),
                alt.Tooltip("part:Q", title="Part", format=".1%"),
                alt.Tooltip("effectif:Q", title="Effectif"),
                alt.Tooltip("observes:Q", title="Observés"),
            ],
        )
        .properties(width=280, height=180)
        .facet(facet=alt.Facet("nom:N", title=None), columns=2)
        .properties(
            title="Situation des membres de la cohorte selon le temps écoulé depuis l'entrée"
        )
    )
    mo.vstack(
        [
            in_french(_chart),
            mo.accordion(
                {
                    "Tableau des parts": shown(
                        shares,
                        {
                            "nom": "Collectivité",
                            "horizon_mois": "Horizon (mois)",
                            "libelle_situation": "Situation",
                            "observes": "Observés",
                            "effectif": "Effectif",
                            "part": "Part",
                        },
                        percent=["part"],
                    )
                }
            ),
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(rf"""
    ## Durée dans le RSA (Kaplan–Meier)

    Événement **SORTIE_RSA**, tel que l'entrepôt le définit : durée en jours entre l'ouverture
    du droit (l'entrée dans la cohorte) et sa fin. La fin est une sortie du RSA, sauf pour
    déménagement ou décès (durée censurée à la date de fin) ; un droit encore ouvert à la date
    de coupure de son département (sa dernière extraction) est censuré à cette date.

    Les durées individuelles sont reconstituées ici, indépendamment de l'entrepôt, à partir du
    fichier à accès restreint (`marts.cohortes_membres` pour les entrées, `marts.parcours` pour
    la fin et le motif du droit) et des dates de coupure publiées
    (`marts.rsa_indicateurs.date_coupure`). Les courbes ne sont montrées que tant qu'au moins
    {THRESHOLD} personnes restent à risque ; l'intervalle de confiance à 95 % est celui de
    lifelines (Greenwood exponentiel).
    """)
    return


@app.function
def rsa_exit_subjects(
    entries: pl.DataFrame, ends: pl.DataFrame, cutoffs: pl.DataFrame
) -> pl.DataFrame:
    """Each RSA entry's time to the end of its spell (`duree_jours`) and whether that end is an
    exit (`evenement`), as the warehouse defines SORTIE_RSA: the end is an exit unless its motif
    is a move or a death (censored at the end); a spell open at its Département's cut-off, or
    ending after it, is censored at the cut-off; entries after the cut-off are left out.

    `entries`: collectivite, episode_entree_id, date_entree (and any cohort keys);
    `ends`: episode_id, date_fin, motif_sortie; `cutoffs`: collectivite, date_coupure."""
    unknown = entries.join(ends, left_on="episode_entree_id", right_on="episode_id", how="anti")
    if not unknown.is_empty():
        raise ValueError(
            f"{unknown.height} entrées de cohorte sans leur droit RSA dans marts.parcours : "
            "les deux tables ne viennent pas de la même publication."
        )
    ended = pl.col("date_fin").is_not_null() & (pl.col("date_fin") <= pl.col("date_coupure"))
    return (
        entries.join(ends, left_on="episode_entree_id", right_on="episode_id")
        .join(cutoffs, on="collectivite")
        .filter(pl.col("date_entree") <= pl.col("date_coupure"))
        .with_columns(
            duree_jours=(
                pl.when(ended).then(pl.col("date_fin")).otherwise(pl.col("date_coupure"))
                - pl.col("date_entree")
            ).dt.total_days(),
            evenement=ended & ~pl.col("motif_sortie").is_in(CENSORING_MOTIFS).fill_null(False),
        )
    )


@app.function
def kaplan_meier(subjects: pl.DataFrame) -> pl.DataFrame:
    """lifelines' Kaplan–Meier estimate for one group of subjects: one row per time with events
    or censorings (at risk just before, events, censored, survival, 95 % interval)."""
    fitter = KaplanMeierFitter().fit(
        subjects["duree_jours"].to_numpy(), subjects["evenement"].to_numpy()
    )
    table = fitter.event_table
    table = table[table["removed"] > 0]
    times = table.index.to_numpy()
    interval = fitter.confidence_interval_survival_function_.loc[times]
    return pl.DataFrame(
        {
            "duree_jours": times.astype("int64"),
            "a_risque": table["at_risk"].to_numpy().astype("int64"),
            "evenements": table["observed"].to_numpy().astype("int64"),
            "censures": table["censored"].to_numpy().astype("int64"),
            "survie": fitter.survival_function_at_times(times).to_numpy(),
            "ic95_bas": interval.iloc[:, 0].to_numpy(),
            "ic95_haut": interval.iloc[:, 1].to_numpy(),
        }
    )


@app.function
def kaplan_meier_by(subjects: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """`kaplan_meier` for each group of subjects sharing the `keys`."""
    frames = [
        kaplan_meier(group).select(
            *[
                pl.lit(value, dtype=subjects.schema[key]).alias(key)
                for key, value in zip(keys, values, strict=True)
            ],
            pl.all(),
        )
        for values, group in subjects.group_by(keys, maintain_order=True)
    ]
    return pl.concat(frames) if frames else pl.DataFrame()


@app.function
def median_text(curve: pl.DataFrame) -> str:
    """The first time survival reaches one half on the curve given, or « non atteinte »."""
    reached = curve.filter(pl.col("survie") <= 0.5)["duree_jours"]
    return str(reached.min()) if not reached.is_empty() else "non atteinte"


@app.cell
def _(is_rsa, published, restricted):
    mo.stop(
        not is_rsa,
        mo.md(
            "La durée dans le RSA ne concerne que les cohortes RSA. Pour les autres dispositifs, "
            "l'entrepôt publie l'événement PREMIER_EMPLOI (`marts.survie_km`), que le fichier à "
            "accès restreint ne permet pas de reconstituer (les heures de clause sociale n'y "
            "figurent pas) : pas de comparaison avec lifelines ici."
        ).callout(kind="info"),
    )
    # Every RSA entry of every year and public: the comparison below covers all of them.
    _entries = restricted.sql(
        """
        select distinct collectivite, annee_entree, trimestre_entree, public, person_id,
            episode_entree_id, date_entree
        from marts.cohortes_membres
        where dispositif = 'RSA'
        """
    ).pl()
    _ends = restricted.sql(
        "select episode_id, date_fin, motif_sortie from marts.parcours where dispositif = 'RSA'"
    ).pl()
    _cutoffs = published.sql(
        "select distinct collectivite, date_coupure from marts.rsa_indicateurs"
    ).pl()
    rsa_subjects = rsa_exit_subjects(_entries, _ends, _cutoffs)
    return (rsa_subjects,)


@app.cell
def _(cohort, names, public, rsa_subjects, year):
    # The annual cohort's own curves, one per Département (subjects are listed once per public).
    _annual = rsa_subjects.filter(
        (pl.col("annee_entree") == year) & (pl.col("public") == public)
    ).join(cohort.select("episode_entree_id").unique(), on="episode_entree_id", how="semi")
    annual_curves = (
        kaplan_meier_by(_annual, ["collectivite"])
        .filter(pl.col("a_risque") >= THRESHOLD)
        .with_columns(
            pl.col("collectivite")
            .replace_strict(names, default=pl.col("collectivite"))
            .alias("nom")
        )
    )
    _medians = pl.DataFrame(
        [
            {"Département": name, "Durée médiane (jours)": median_text(curve)}
            for (name,), curve in sorted(annual_curves.group_by(["nom"]))
        ],
        schema={"Département": pl.String, "Durée médiane (jours)": pl.String},
    )
    # Every curve starts at 100 % on the day the right opens.
    _drawn = pl.concat(
        [
            annual_curves.group_by("nom").agg(
                duree_jours=pl.lit(0, pl.Int64), survie=1.0, ic95_bas=1.0, ic95_haut=1.0
            ),
            annual_curves.select("nom", "duree_jours", "survie", "ic95_bas", "ic95_haut"),
        ],
        how="diagonal_relaxed",
    )
    _line = alt.Chart(_drawn).encode(
        x=alt.X("duree_jours:Q", title="Jours depuis l'ouverture du droit"),
        color=alt.Color("nom:N", title="Département"),
    )
    _chart = (
        _line.mark_area(opacity=0.15, interpolate="step-after").encode(
            y=alt.Y("ic95_bas:Q", title="Part encore au RSA", axis=alt.Axis(format="%")),
            y2="ic95_haut:Q",
        )
        + _line.mark_line(interpolate="step-after").encode(
            y="survie:Q",
            tooltip=[
                alt.Tooltip("nom:N", title="Département"),
                alt.Tooltip("duree_jours:Q", title="Jours"),
                alt.Tooltip("survie:Q", title="Survie", format=".1%"),
            ],
        )
    ).properties(width=560, height=300, title=f"Maintien au RSA des entrants de {year} (lifelines)")
    mo.vstack(
        [
            in_french(_chart),
            mo.md(
                "Durée médiane dans le RSA : « non atteinte » si moins de la moitié des entrants "
                f"est sortie tant qu'au moins {THRESHOLD} personnes restent à risque."
            ),
            _medians,
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(rf"""
    ### Contrôle : l'entrepôt et lifelines donnent les mêmes estimations

    L'entrepôt calcule ses propres estimateurs de Kaplan–Meier en SQL (`marts.survie_km`), par
    cohorte **trimestrielle** (département, année et trimestre d'entrée, public). Les mêmes
    cohortes sont estimées ici avec lifelines, pour toutes les années d'entrée, aux mêmes
    durées. Là où l'entrepôt publie son estimation (au moins {THRESHOLD} personnes à risque),
    les deux doivent donner le même effectif à risque, les mêmes nombres d'événements et de
    censures, et la même survie à {TOLERANCE:.0e} près ; une durée présente d'un seul côté est
    aussi un désaccord. Sinon le carnet s'arrête sur une erreur.
    """)
    return


@app.function
def compare_with_warehouse(
    lifelines_km: pl.DataFrame, warehouse_km: pl.DataFrame, keys: list[str]
) -> pl.DataFrame:
    """Both estimates side by side, one row per cohort and time found on either side: the
    warehouse's (published or masked) next to lifelines' (suffix `_lifelines`), whether each
    side has the time, whether the warehouse publishes it, and the absolute difference."""
    counts = [
        pl.col(c).cast(pl.Int64) for c in ("duree_jours", "a_risque", "evenements", "censures")
    ]
    columns = [*keys, *counts, "survie"]
    return (
        warehouse_km.select(columns)
        .with_columns(entrepot=pl.lit(True))
        .join(
            lifelines_km.select(columns).with_columns(lifelines=pl.lit(True)),
            on=[*keys, "duree_jours"],
            how="full",
            coalesce=True,
            suffix="_lifelines",
        )
        .with_columns(
            pl.col("entrepot", "lifelines").fill_null(False),
            publie=pl.col("survie").is_not_null(),
            ecart=(pl.col("survie") - pl.col("survie_lifelines")).abs(),
        )
    )


@app.function
def disagreements(comparison: pl.DataFrame, tolerance: float = TOLERANCE) -> pl.DataFrame:
    """The rows where the two estimates disagree: a time on one side only or, where the
    warehouse publishes its estimate, survival further apart than the tolerance or other
    counts of persons at risk, events or censorings (where the count itself is published: 1 to
    10 events or censorings are under statistical secrecy)."""
    differs = [
        pl.col(c).is_not_null() & pl.col(c).ne(pl.col(f"{c}_lifelines"))
        for c in ("a_risque", "evenements", "censures")
    ]
    return comparison.filter(
        ~pl.col("entrepot")
        | ~pl.col("lifelines")
        | (pl.col("publie") & ((pl.col("ecart") > tolerance) | pl.any_horizontal(differs)))
    )


@app.function
def scientific(value: float) -> str:
    """A small number in scientific notation, with a decimal comma: 4,6e-11."""
    return f"{value:.1e}".replace(".", ",")


@app.cell
def _(published, rsa_subjects):
    _warehouse = published.sql(
        """
        select collectivite, annee_entree, trimestre_entree, public, duree_jours, a_risque,
            evenements, censures, survie
        from marts.survie_km
        where dispositif = 'RSA' and evenement = 'SORTIE_RSA'
        """
    ).pl()
    comparison = compare_with_warehouse(
        kaplan_meier_by(rsa_subjects, COHORT_KEYS), _warehouse, COHORT_KEYS
    )
    _wrong = disagreements(comparison)
    if not _wrong.is_empty():
        _where = _wrong.select(*COHORT_KEYS, "duree_jours").head(10).rows()
        raise ValueError(
            f"Kaplan–Meier : l'entrepôt (marts.survie_km) et lifelines divergent sur "
            f"{_wrong.height} durées ; premières (département, année, trimestre, public, "
            f"durée) : {_where}"
        )
    compared = comparison.filter("publie")
    max_difference = compared["ecart"].max() if not compared.is_empty() else 0.0
    print(
        f"Kaplan–Meier SORTIE_RSA : {compared.height} estimations publiées comparées, "
        f"écart absolu maximal {max_difference:.1e} (tolérance {TOLERANCE:.0e})"
    )
    _by_year = (
        comparison.group_by("annee_entree")
        .agg(
            cohortes=pl.struct(COHORT_KEYS).n_unique(),
            durees_publiees=pl.col("publie").sum(),
            ecart_max=pl.col("ecart").filter("publie").max(),
        )
        .sort("annee_entree")
        .with_columns(
            pl.col("annee_entree").cast(pl.String),
            pl.col("ecart_max").map_elements(scientific, pl.String).fill_null("—"),
        )
    )
    mo.vstack(
        [
            mo.md(
                f"**Écart absolu maximal : {scientific(max_difference)}** sur {compared.height} "
                f"estimations publiées ({comparison.select(pl.struct(COHORT_KEYS).n_unique()).item()} "
                f"cohortes trimestrielles) : l'entrepôt et lifelines concordent "
                f"(tolérance {TOLERANCE:.0e})."
            ).callout(kind="success"),
            shown(
                _by_year,
                {
                    "annee_entree": "Année d'entrée",
                    "cohortes": "Cohortes trimestrielles comparées",
                    "durees_publiees": "Durées publiées comparées",
                    "ecart_max": "Écart maximal",
                },
            ),
        ]
    )
    return (comparison,)


@app.cell
def _(comparison, names, public, year):
    # Only what the warehouse publishes is drawn, for the chosen year and public.
    _shown = (
        comparison.filter(
            pl.col("publie") & (pl.col("annee_entree") == year) & (pl.col("public") == public)
        )
        .with_columns(
            pl.col("collectivite")
            .replace_strict(names, default=pl.col("collectivite"))
            .alias("nom"),
            ("T" + pl.col("trimestre_entree").cast(pl.String)).alias("trimestre"),
        )
        .unpivot(
            on=["survie", "survie_lifelines"],
            index=["nom", "trimestre", "duree_jours", "a_risque"],
            variable_name="source",
            value_name="estimation",
        )
        .with_columns(
            pl.col("source").replace_strict(
                {"survie": "Entrepôt (marts.survie_km)", "survie_lifelines": "lifelines"}
            )
        )
    )
    _base = alt.Chart(_shown).encode(
        x=alt.X("duree_jours:Q", title="Jours depuis l'ouverture du droit"),
        y=alt.Y("estimation:Q", title="Survie estimée", axis=alt.Axis(format="%")),
        color=alt.Color("trimestre:N", title="Trimestre d'entrée"),
        tooltip=[
            alt.Tooltip("nom:N", title="Département"),
            alt.Tooltip("trimestre:N", title="Trimestre"),
            alt.Tooltip("source:N", title="Source"),
            alt.Tooltip("duree_jours:Q", title="Jours"),
            alt.Tooltip("estimation:Q", title="Survie", format=".4f"),
            alt.Tooltip("a_risque:Q", title="À risque"),
        ],
    )
    _chart = (
        (
            _base.transform_filter(alt.datum.source == "lifelines").mark_line(
                interpolate="step-after"
            )
            + _base.transform_filter(alt.datum.source != "lifelines").mark_point(
                size=60, filled=False
            )
        )
        .properties(width=280, height=180)
        .facet(facet=alt.Facet("nom:N", title=None), columns=2)
        .properties(
            title=f"Entrants de {year} : lifelines (lignes) et entrepôt (cercles), par trimestre"
        )
    )
    in_french(_chart) if _shown.height else mo.md(
        f"Aucune estimation publiée pour les cohortes trimestrielles de {year} : moins de "
        f"{THRESHOLD} personnes à risque partout."
    )
    return


@app.cell(hide_code=True)
def _(dispositif, dispositif_names, year):
    mo.md(f"""
    ## Transitions entre dispositifs

    Sorties de l'année {year} (tous publics, agrégats publiés `marts.transitions_matrice`) :
    premier autre dispositif rejoint dans la fenêtre choisie. « Aucun » : pas d'autre
    dispositif dans la fenêtre ; « Censure » : fenêtre qui dépasse la date de coupure. Les
    sorties de **{dispositif_names.get(dispositif, dispositif)}** d'abord, puis la matrice
    complète.
    """)
    return


@app.cell
def _(dispositif, dispositif_names, published, window_choice, year):
    _labels = {**dispositif_names, "AUCUN": "Aucun", "CENSURE": "Censure"}
    _transitions = (
        published.sql(
            """
            select dispositif_origine, dispositif_destination, sorties, secret_statistique
            from marts.transitions_matrice
            where annee_sortie = $year and fenetre_mois = $window
            """,
            params={"year": year, "window": window_choice.value},
        )
        .pl()
        .with_columns(
            pl.col("dispositif_origine")
            .replace_strict(_labels, default=pl.col("dispositif_origine"))
            .alias("origine"),
            pl.col("dispositif_destination")
            .replace_strict(_labels, default=pl.col("dispositif_destination"))
            .alias("destination"),
        )
    )
    _transitions = _transitions.with_columns(as_text(_transitions, "sorties").alias("texte"))
    _from_chosen = _transitions.filter(pl.col("dispositif_origine") == dispositif).sort(
        "sorties", descending=True, nulls_last=True
    )
    _heatmap = alt.Chart(_transitions).encode(
        x=alt.X("destination:N", title="Dispositif rejoint", axis=alt.Axis(labelLimit=300)),
        y=alt.Y("origine:N", title="Dispositif quitté", axis=alt.Axis(labelLimit=300)),
    )
    _chart = (
        _heatmap.mark_rect().encode(
            color=alt.Color("sorties:Q", title="Sorties", scale=alt.Scale(scheme="blues")),
            tooltip=[
                alt.Tooltip("origine:N", title="Quitté"),
                alt.Tooltip("destination:N", title="Rejoint"),
                alt.Tooltip("texte:N", title="Sorties"),
            ],
        )
        + _heatmap.mark_text(fontSize=9).encode(text="texte:N")
    ).properties(
        title=f"Sorties de {year} : dispositif rejoint dans les {window_choice.value} mois "
        "(s : secret statistique)"
    )
    mo.vstack(
        [
            shown(
                _from_chosen,
                {"destination": "Dispositif rejoint", "sorties": "Sorties"},
            )
            if _from_chosen.height
            else mo.md(f"Aucune sortie de ce dispositif en {year}."),
            in_french(_chart),
        ]
    )
    return


@app.cell(hide_code=True)
def _():
    mo.md(rf"""
    ## Pour aller plus loin

    - Autre année, autre public : changez les paramètres en haut du carnet ; en ligne de
      commande, `--annee 2021 --public BRSA --dispositif RSA`.
    - Les tables agrégées publiées (`marts.cohortes_agregees`, `marts.survie_km`) sont celles
      des exports : `spifeb export cohortes`.
    - Ajoutez vos cellules en dessous : toute donnée individuelle reste dans les variables,
      seuls des agrégats (au moins {THRESHOLD} personnes) s'affichent.
    """)
    return


if __name__ == "__main__":
    app.run()
