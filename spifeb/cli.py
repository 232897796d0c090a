"""The `spifeb` command: one entry point for people, one subcommand per task."""

from __future__ import annotations

import datetime as dt
import errno
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from spifeb import pseudonymisation, settings

app = typer.Typer(
    name="spifeb",
    help="Entrepôt SPIFEB : extraits synthétiques, pseudonymisation, ingestion, publication.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
DEBUG_ENV = "SPIFEB_DEBUG"  # set to 1 to see the traceback of an unexpected error
OS_ERRORS = {  # the system's reasons, in French, for the errors a user can cause
    errno.EACCES: "droits insuffisants",
    errno.EPERM: "opération non permise",
    errno.EROFS: "disque en lecture seule",
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EISDIR: "c'est un dossier",
    errno.ENOSPC: "plus de place sur le disque",
}


def _progress(console: Console) -> Progress:
    """The progress display of long work: one bar per stage, with counts and elapsed time."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _stage_tracker(progress: Progress):
    """A `(stage, done, total)` callback that gives each stage its own bar (total 0: unknown)."""
    tasks: dict[str, TaskID] = {}
    totals: dict[TaskID, int] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            for task in tasks.values():  # a new stage: the earlier ones are over
                finished = totals[task] or 1
                progress.update(task, completed=finished, total=finished)
            tasks[stage] = progress.add_task(stage, total=total or None)
        totals[tasks[stage]] = total
        progress.update(tasks[stage], completed=done, total=total or None)

    return update


def _user_error(message: str, code: int = 2) -> typer.Exit:
    """Print a user error on one line (French) and give the exit to raise."""
    Console(stderr=True).print(f"[bold red]Erreur :[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=code)


@app.callback()
def _root() -> None:
    # Keeps `spifeb` a group of subcommands even while it has only one (Typer would
    # otherwise run a lone command directly, without its name).
    pass


@app.command("pseudonymise")
def pseudonymise_command(
    input_csv: Annotated[Path, typer.Argument(help="Fichier CSV en clair.", show_default=False)],
    output_csv: Annotated[
        Path, typer.Argument(help="Fichier CSV pseudonymisé à écrire.", show_default=False)
    ],
    config: Annotated[
        Path | None, typer.Option("--config", help="Correspondance des colonnes (YAML).")
    ] = None,
    nir: Annotated[str | None, typer.Option("--nir", help="Colonne du NIR.")] = None,
    nom: Annotated[str | None, typer.Option("--nom", help="Colonne du nom de naissance.")] = None,
    prenoms: Annotated[str | None, typer.Option("--prenoms", help="Colonne des prénoms.")] = None,
    date_naissance: Annotated[
        str | None, typer.Option("--date-naissance", help="Colonne de la date de naissance.")
    ] = None,
    sexe: Annotated[str | None, typer.Option("--sexe", help="Colonne du sexe.")] = None,
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", help="Autre colonne identifiante à supprimer (répétable)."),
    ] = None,
    birth_month_column: Annotated[
        str | None,
        typer.Option("--birth-month-column", help="Nom de la colonne année-mois de naissance."),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Séparateur (défaut « , »).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Encodage (défaut UTF-8).")
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file",
            help=f"Fichier contenant la clé (sinon variable {pseudonymisation.KEY_ENV_VAR}).",
        ),
    ] = None,
) -> None:
    """Pseudonymise un fichier en clair avant envoi (section 2 de la spécification)."""
    out = Console()
    try:
        key = pseudonymisation.load_key(key_file)
        settings = (
            pseudonymisation.load_config(config)
            if config is not None
            else pseudonymisation.PseudonymisationConfig()
        )
        mapping = pseudonymisation.merge_mapping(
            settings.mapping,
            nir=nir,
            nom=nom,
            prenoms=prenoms,
            date_naissance=date_naissance,
            sexe=sexe,
            drop=drop or (),
            birth_month_column=birth_month_column,
        )
        summary = pseudonymisation.pseudonymise_file(
            input_csv,
            output_csv,
            mapping,
            key,
            delimiter=delimiter or settings.delimiter,
            encoding=encoding or settings.encoding,
        )
    except pseudonymisation.PseudonymisationError as exc:
        raise _user_error(str(exc)) from None
    out.print(
        f"[green]{summary.rows}[/] ligne(s) écrite(s) dans {escape(str(output_csv))} : "
        f"{summary.with_pseudo_nir} avec pseudo_nir, {summary.with_pseudo_ec} avec pseudo_ec "
        f"({summary.with_both} avec les deux)."
    )


def _year_month(value: str) -> dt.date:
    try:
        return dt.datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise typer.BadParameter("attendu : AAAA-MM (par exemple 2018-01)") from None


@app.command("synth")
def synth_command(
    persons: Annotated[int, typer.Option("--persons", min=1, help="Nombre de personnes.")] = 10_000,
    start: Annotated[str, typer.Option("--start", help="Premier mois (AAAA-MM).")] = "2018-01",
    months: Annotated[int, typer.Option("--months", min=1, help="Nombre de mois simulés.")] = 72,
    seed: Annotated[
        int, typer.Option("--seed", help="Graine (mêmes octets pour une graine).")
    ] = 42,
    out: Annotated[
        Path | None, typer.Option("--out", help="Zone de dépôt à écrire (défaut : data/landing).")
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth", help="Vérité terrain, hors zone de dépôt (défaut : à côté de --out)."
        ),
    ] = None,
    extracts: Annotated[
        int | None,
        typer.Option(
            "--extracts", min=1, help="N'écrire que les K extraits les plus récents par source."
        ),
    ] = None,
    defect_rate: Annotated[
        float, typer.Option("--defect-rate", min=0.0, max=0.5, help="Taux d'anomalies injectées.")
    ] = 0.0,
    clear_extract: Annotated[
        bool,
        typer.Option(
            "--clear-extract", help="Injecter un extrait non pseudonymisé (test de refus)."
        ),
    ] = False,
) -> None:
    """Génère des extraits synthétiques réalistes au format exact des sept collectivités."""
    from spifeb.synthetic.generate import (
        LandingNotSynthetic,
        SynthOptions,
        clear_landing,
        generate,
    )

    landing = (out or settings.landing_dir()).resolve()
    options = SynthOptions(
        persons=persons,
        start=_year_month(start),
        months=months,
        seed=seed,
        out=landing,
        truth=(truth or landing.parent / "synthetic_truth").resolve(),
        extracts=extracts,
        defect_rate=defect_rate,
        clear_extract=clear_extract,
    )
    try:
        clear_landing(landing)
    except LandingNotSynthetic as refused:
        raise _user_error(str(refused)) from None
    console = Console()
    with _progress(console) as progress:
        tell = _stage_tracker(progress)
        summary = generate(options, lambda done, total: tell("Extraits synthétiques", done, total))
    table = Table(title="Extraits écrits", show_lines=False)
    table.add_column("Source")
    table.add_column("Lignes (tous extraits)", justify="right")
    for source, rows in sorted(summary.rows_by_source.items()):
        table.add_row(source, f"{rows:,}".replace(",", " "))
    console.print(table)
    console.print(
        f"{summary.extracts} extraits, {summary.files} fichiers dans [bold]{escape(str(landing))}[/] ; "
        f"vérité terrain dans {escape(str(options.truth))}"
        + (f" ; {summary.defects} anomalies injectées" if summary.defects else "")
    )


@app.command("ingest")
def ingest_command(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Source à intégrer (répétable ; défaut : toutes)."),
    ] = None,
    landing: Annotated[
        Path | None, typer.Option("--landing", help="Zone de dépôt (défaut : data/landing).")
    ] = None,
    lake: Annotated[
        Path | None, typer.Option("--lake", help="Lac de données (défaut : data/lake).")
    ] = None,
) -> None:
    """Intègre les extraits complets non encore intégrés (contrôles, quarantaine, refus)."""
    from data_contracts import load_catalog
    from ingestion.land import ingest

    known = load_catalog().sources
    unknown = [s for s in source or [] if s not in known]
    if unknown:
        raise _user_error(
            f"source inconnue {', '.join(unknown)} (sources : {', '.join(sorted(known))})."
        )
    landing = (landing or settings.landing_dir()).resolve()
    if not landing.is_dir():
        raise _user_error(f"zone de dépôt introuvable : {landing}.")
    console = Console()
    with _progress(console) as progress:
        tell = _stage_tracker(progress)
        report = ingest(landing, (lake or settings.lake_dir()).resolve(), source,
                        progress=lambda done, total: tell("Intégration des extraits", done, total))  # fmt: skip
    if report.extracts:
        console.print(_ingest_table(report))
    else:
        console.print("Aucun nouvel extrait complet à intégrer.")
    for extract in report.refused:
        console.print(f"[bold red]Refusé[/] {extract.source} {extract.extract_date:%d/%m/%Y} :")
        for refusal in extract.refusals:
            console.print(f"  - {escape(f'[{refusal.rule}]')} {escape(refusal.message)}")
    if report.erased:
        console.print(
            f"Droit d'opposition : {sum(e['rows_erased'] for e in report.erased)} ligne(s) effacée(s)."
        )
    if report.refused:
        raise typer.Exit(code=1)


def _ingest_table(report) -> Table:
    table = Table(title="Intégration par source")
    for header in ("Source", "Extraits", "Refusés", "Lues", "Intégrées", "Quarant.", "Rempl.",
                   "Oppos.", "s"):  # fmt: skip
        table.add_column(header, justify="left" if header == "Source" else "right")
    by_source: dict[str, list] = {}
    for extract in report.extracts:
        by_source.setdefault(extract.source, []).append(extract)
    for source, extracts in sorted(by_source.items()):
        files = [f for e in extracts for f in e.files]
        table.add_row(
            source,
            str(sum(e.status == "landed" for e in extracts)),
            str(sum(e.status == "refused" for e in extracts)),
            *(f"{sum(getattr(f, k) for f in files):,}".replace(",", " ")
              for k in ("rows_read", "rows_landed", "rows_quarantined", "rows_superseded", "rows_opposed")),
            f"{sum(e.seconds for e in extracts):.1f}",
        )  # fmt: skip
    return table


@app.command("build")
def build_command(
    lake: Annotated[
        Path | None, typer.Option("--lake", help="Lac de données (défaut : data/lake).")
    ] = None,
    warehouse: Annotated[
        Path | None,
        typer.Option("--warehouse", help="Fichier DuckDB de l'entrepôt (défaut : data/warehouse)."),
    ] = None,
) -> None:
    """Construit l'entrepôt (modèles dbt et leurs tests) à partir des extraits intégrés."""
    from spifeb.pipeline import STAGES, NothingLanded, ensure_something_landed
    from spifeb.warehouse import run_dbt

    console = Console()
    target = (warehouse or settings.warehouse_path()).resolve()
    lake = (lake or settings.lake_dir()).resolve()
    try:
        ensure_something_landed(lake, settings.landing_dir())
    except NothingLanded as nothing:
        raise _user_error(f"{nothing}") from None
    with _progress(console) as progress:
        tell = _stage_tracker(progress)
        result = run_dbt("build", lake, target, target_path=settings.data_dir() / "dbt_target",
                         progress=lambda done, total: tell(STAGES[1], done, total))  # fmt: skip
    summary = [
        line
        for line in result.stdout.splitlines()
        if "Done." in line or "ERROR" in line or "FAIL" in line
    ]
    console.print(escape("\n".join(summary[-15:])))
    if result.returncode != 0:
        Console(stderr=True).print("[bold red]Échec de la construction de l'entrepôt.[/]")
        raise typer.Exit(code=1)
    console.print(f"Entrepôt construit : [bold]{escape(str(target))}[/]")


@app.command("run")
def run_command(
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, help="Attendre (secondes) si un autre traitement écrit l'entrepôt."
        ),
    ] = 0.0,
) -> None:
    """Traitement complet sans Dagster : intégration, entrepôt, contrôle qualité, publication."""
    from spifeb.pipeline import NothingLanded, WarehouseBusy, run_pipeline

    console, err = Console(), Console(stderr=True)
    try:
        with _progress(console) as progress:
            result = run_pipeline(wait, progress=_stage_tracker(progress))
    except (WarehouseBusy, NothingLanded) as error:
        raise _user_error(str(error)) from None
    if result.ingestion.extracts:
        console.print(_ingest_table(result.ingestion))
    for extract in result.ingestion.refused:
        console.print(
            f"[bold red]Extrait refusé[/] {extract.source} {extract.extract_date:%d/%m/%Y}"
        )
    if not result.build_ok:
        failures = [
            line for line in result.build_log.splitlines() if "ERROR" in line or "FAIL" in line
        ]
        err.print(
            "[bold red]Échec de la construction de l'entrepôt :[/]\n"
            + escape("\n".join(failures[-10:]))
        )
        raise typer.Exit(code=1)
    publication = result.publication
    if not publication.published:
        err.print(
            "[bold red]Publication bloquée par le contrôle qualité[/] (la publication courante est conservée) :"
        )
        for check in publication.failed_checks:
            err.print(f"  - {escape(check.name)} : {escape(check.detail)}")
        raise typer.Exit(code=1)
    console.print(_publication_summary(publication.path))
    if result.ingestion.refused:
        raise typer.Exit(code=1)


def _publication_summary(path: Path) -> str:
    import json

    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    extracts = sorted({(e["source"], e["date_extraction"]) for e in manifest["extraits"]})
    lines = [
        f"[bold green]Publication {manifest['id_publication']}[/] : {escape(str(path))}",
        f"  lien courant : {escape(str(settings.published_dir() / 'current'))}",
        "  extraits : " + ", ".join(f"{s} du {d}" for s, d in extracts),
        f"  contrôles : {sum(c['success'] for c in manifest['controles'])}/{len(manifest['controles'])} conformes",
        f"  tables publiées : {len(manifest['lignes'])} ; rapport : {escape(str(path / 'rapport_qualite.html'))}",
    ]
    return "\n".join(lines)


@app.command("status")
def status_command() -> None:
    """État par source (dernier extrait, refus) et dernière publication avec son contrôle."""
    import json

    import polars as pl

    from data_contracts import load_catalog
    from ingestion.lake import Lake, read_load_log
    from publication.publish import current_publication

    console = Console()
    log = read_load_log(Lake(settings.lake_dir()))
    table = Table(title="Sources")
    for header in (
        "Source",
        "Collectivité",
        "Dernier extrait intégré",
        "Extraits refusés",
        "Dernier refus",
    ):
        table.add_column(header)
    for code, source in sorted(load_catalog().sources.items()):
        mine = log.filter(pl.col("source") == code)
        landed = mine.filter(pl.col("status") == "landed")["extract_date"].max()
        refused = mine.filter(pl.col("status") == "refused").unique("load_id")
        table.add_row(code, source.collectivite, str(landed or "aucun"), str(refused.height),
                      str(refused["extract_date"].max() or "—"))  # fmt: skip
    console.print(table)
    current = current_publication(settings.published_dir())
    if current is None:
        console.print("Aucune publication.")
        return
    manifest = json.loads(
        (settings.published_dir() / current / "manifest.json").read_text(encoding="utf-8")
    )
    passed = sum(c["success"] for c in manifest["controles"])
    console.print(f"Publication courante : [bold]{current}[/] ({manifest['date_publication']}) — contrôles "
                  f"{passed}/{len(manifest['controles'])} conformes.")  # fmt: skip
    alerts = settings.published_dir() / "alerts.log"
    if alerts.exists():
        last = json.loads(alerts.read_text(encoding="utf-8").splitlines()[-1])
        console.print(
            f"Dernière publication bloquée : {last['publication']} ({', '.join(last['controles_en_echec'])})."
        )


@app.command("rollback")
def rollback_command() -> None:
    """Revient à la publication précédente (le lien « current » est rebasculé)."""
    from publication import rollback

    try:
        previous = rollback(settings.published_dir())
    except LookupError as exc:
        raise _user_error(f"{exc}.") from None
    Console().print(f"Publication courante : [bold]{previous}[/]")


@app.command("report")
def report(
    publication: Annotated[
        str | None,
        typer.Option("--publication", help="Identifiant de la publication (défaut : la courante)."),
    ] = None,
    regenerer: Annotated[
        bool,
        typer.Option(
            "--regenerer",
            help="Reconstruit le rapport à partir de la base et du manifeste publiés.",
        ),
    ] = False,
    sortie: Annotated[
        Path | None,
        typer.Option(
            "--sortie",
            help="Fichier HTML écrit par --regenerer (défaut : data/rapports/rapport_<id>.html).",
        ),
    ] = None,
    ouvrir: Annotated[
        bool, typer.Option("--ouvrir/--sans-ouvrir", help="Ouvre le rapport dans le navigateur.")
    ] = False,
) -> None:
    """Rapport HTML d'une publication (indicateurs, graphiques, qualité) : chemin, ouverture ou régénération."""
    import webbrowser

    from publication.report import REPORT, ReportError, publication_folder, regenerate

    console = Console()
    try:
        if sortie is not None and not regenerer:
            raise ReportError("--sortie ne s'utilise qu'avec --regenerer")
        folder = publication_folder(settings.published_dir(), publication)
        if regenerer:
            out = sortie or settings.data_dir() / "rapports" / f"rapport_{folder.name}.html"
            if sortie is None:
                out.parent.mkdir(parents=True, exist_ok=True)  # the default folder is ours
            with console.status(f"Génération du rapport de la publication {folder.name}…"):
                path = regenerate(folder, out.resolve())
        else:
            path = folder / REPORT
            if not path.exists():
                raise ReportError(
                    f"la publication {folder.name} n'a pas de rapport : utilisez --regenerer"
                )
    except ReportError as exc:
        raise _user_error(f"{exc}.") from None
    console.print(escape(str(path)), soft_wrap=True)
    if ouvrir:
        webbrowser.open(path.resolve().as_uri())


export_app = typer.Typer(help="Exports de la publication courante.", no_args_is_help=True)
app.add_typer(
    export_app, name="export", help="Exporte la grille d'indicateurs de la publication courante."
)


@export_app.command("grille")
def export_grille_command(
    collectivite: Annotated[
        str | None, typer.Option("--collectivite", help="Code de la collectivité (ex. cd35).")
    ] = None,
    annee: Annotated[int | None, typer.Option("--annee", help="Année (ex. 2024).")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="xlsx, csv (conventions françaises) ou parquet.")
    ] = "xlsx",
    out: Annotated[Path | None, typer.Option("--out", help="Fichier à écrire.")] = None,
) -> None:
    """Grille partagée d'indicateurs (classeur, CSV ou Parquet), secret statistique appliqué."""
    from publication.exports import ExportError, export_grid

    try:
        path = export_grid(settings.published_dir(), out, collectivite, annee, fmt)
    except ExportError as exc:
        raise _user_error(f"{exc}.") from None
    Console().print(f"Grille écrite : [bold]{escape(str(path))}[/]")


@export_app.command("cohortes")
def export_cohortes_command(
    collectivite: Annotated[
        str | None, typer.Option("--collectivite", help="Code de la collectivité (ex. cd35).")
    ] = None,
    annee: Annotated[int | None, typer.Option("--annee", help="Année d'entrée (ex. 2022).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Classeur à écrire.")] = None,
) -> None:
    """Cohortes suivies et courbes de survie (classeur), secret statistique appliqué."""
    from publication.exports import ExportError, export_cohorts

    try:
        path = export_cohorts(settings.published_dir(), out, collectivite, annee)
    except ExportError as exc:
        raise _user_error(f"{exc}.") from None
    Console().print(f"Cohortes écrites : [bold]{escape(str(path))}[/]")


@app.command("demo")
def demo_command(
    persons: Annotated[int, typer.Option("--persons", min=1, help="Nombre de personnes.")] = 2_000,
    months: Annotated[int, typer.Option("--months", min=1, help="Nombre de mois simulés.")] = 72,
    seed: Annotated[int, typer.Option("--seed", help="Graine.")] = 42,
) -> None:
    """Démonstration complète : extraits synthétiques, intégration, entrepôt, publication."""
    synth_command(persons=persons, start="2018-01", months=months, seed=seed, out=None, truth=None,
                  extracts=None, defect_rate=0.0, clear_extract=False)  # fmt: skip
    shutil.rmtree(settings.lake_dir(), ignore_errors=True)
    run_command(wait=0.0)


def main() -> None:
    """The `spifeb` entry point: an unexpected error ends in one line, not a traceback (set
    SPIFEB_DEBUG=1 to see it); user errors are handled by each command."""
    import os
    import sys

    try:
        app()
    except KeyboardInterrupt:
        Console(stderr=True).print("Interrompu.")
        sys.exit(130)
    except OSError as error:  # a file the command could not read or write
        reason = OS_ERRORS.get(error.errno, error.strerror or type(error).__name__)
        where = f" : {error.filename}" if error.filename else ""
        Console(stderr=True).print(
            f"[bold red]Erreur :[/] accès au fichier impossible{escape(where)} ({reason}).",
            soft_wrap=True,
        )
        sys.exit(2)
    except Exception as error:  # the last line of defence between a bug and a user
        if os.environ.get(DEBUG_ENV):
            raise
        first_line = next(iter(str(error).splitlines()), "")
        Console(stderr=True).print(
            f"[bold red]Erreur inattendue[/] ({type(error).__name__}) : {escape(first_line)} "
            f"— relancer avec {DEBUG_ENV}=1 pour le détail.",
            soft_wrap=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
