"""The `spifeb` command: one line of help per subcommand, data directory moved by one variable."""

from __future__ import annotations

from typer.testing import CliRunner

from spifeb.cli import app
from spifeb.settings import DATA_DIR_ENV, data_dir, landing_dir
from tests.spec.inventory import SOURCES

runner = CliRunner()


def test_help_explains_each_subcommand_in_one_line():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in ("pseudonymise", "synth", "demo"):
        line = next(line for line in result.output.splitlines() if f" {command} " in line)
        assert len(line.split(command, 1)[1].strip()) > 20, line


def test_data_directory_defaults_to_data_and_moves_with_one_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert data_dir() == tmp_path / "data"
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "ailleurs"))
    assert landing_dir() == tmp_path / "ailleurs" / "landing"


def test_synth_writes_the_landing_zone_under_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    result = runner.invoke(
        app, ["synth", "--persons", "150", "--start", "2023-01", "--months", "3", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    manifests = list((tmp_path / "landing").glob("*/*/manifest.json"))
    assert {m.parent.parent.name for m in manifests} == set(SOURCES)
    assert (tmp_path / "synthetic_truth" / "persons.parquet").exists()
    assert "extraits" in result.output


def test_synth_refuses_a_malformed_month_in_french(tmp_path):
    result = runner.invoke(app, ["synth", "--start", "janvier", "--out", str(tmp_path / "l")])
    assert result.exit_code == 2
    assert "AAAA-MM" in result.output


def test_user_errors_are_one_line_with_a_non_zero_exit(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    cases = {
        ("ingest", "--source", "zz"): "source inconnue zz",
        ("ingest", "--landing", str(tmp_path / "absente")): "zone de dépôt introuvable",
        ("build",): "aucun extrait intégré",
        ("export", "grille"): "aucune publication",
        ("export", "grille", "--format", "docx"): "format inconnu « docx »",
        ("report",): "aucune publication",
        ("rollback",): "aucune publication",
        ("export", "grille", "--inconnue"): "No such option",
    }
    for args, message in cases.items():
        result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        if args[-1] != "--inconnue":  # ours: one line; Click's usage error: its own box
            assert len(result.output.strip().splitlines()) == 1, (args, result.output)


def test_an_unexpected_error_ends_in_one_line_unless_debugging(monkeypatch, capsys):
    import pytest

    from spifeb import cli

    def broken():
        raise RuntimeError("index absent\nsecond line of detail")

    monkeypatch.setattr(cli, "app", broken)
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "Erreur inattendue (RuntimeError) : index absent" in err
    assert "second line" not in err and "Traceback" not in err
    assert "SPIFEB_DEBUG=1" in err
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(RuntimeError):
        cli.main()


def test_synth_never_deletes_extracts_it_did_not_write(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    received = tmp_path / "landing" / "cd29" / "2024-01-31"
    received.mkdir(parents=True)
    (received / "brsa.tsv").write_text("reçu de la collectivité\n", encoding="utf-8")
    for command in (["synth", "--persons", "50", "--months", "1"], ["demo", "--persons", "50"]):
        result = runner.invoke(app, command, env={"COLUMNS": "300"})
        assert result.exit_code == 2, result.output
        assert "ne sera pas effacée" in result.output
        assert (received / "brsa.tsv").exists()
    generated = tmp_path / "synthetique"
    args = ["synth", "--persons", "50", "--start", "2023-01", "--months", "1", "--out"]
    assert runner.invoke(app, [*args, str(generated)]).exit_code == 0
    assert runner.invoke(app, [*args, str(generated)]).exit_code == 0  # its own: rewritten


def test_a_file_the_system_refuses_is_one_french_line(monkeypatch, capsys):
    import errno

    import pytest

    from spifeb import cli

    def refused():
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/partage/grille.xlsx")

    monkeypatch.setattr(cli, "app", refused)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "accès au fichier impossible : /srv/partage/grille.xlsx (droits insuffisants)" in err
    assert "Permission denied" not in err and "Traceback" not in err
