"""The `spifeb` command: one entry point for people, one subcommand per task."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from spifeb import pseudonymisation

app = typer.Typer(
    name="spifeb",
    help="Entrepôt SPIFEB : extraits synthétiques, pseudonymisation, ingestion, publication.",
    no_args_is_help=True,
    add_completion=False,
)


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
    out, err = Console(), Console(stderr=True)
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
        err.print(f"[bold red]Erreur :[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from None
    out.print(
        f"[green]{summary.rows}[/] ligne(s) écrite(s) dans {escape(str(output_csv))} : "
        f"{summary.with_pseudo_nir} avec pseudo_nir, {summary.with_pseudo_ec} avec pseudo_ec "
        f"({summary.with_both} avec les deux)."
    )


def main() -> None:
    app()
