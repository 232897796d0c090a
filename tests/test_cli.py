"""The `spifeb` command: one line of help per subcommand, data directory moved by one variable."""

from __future__ import annotations

from typer.testing import CliRunner

from spifeb.cli import app
from spifeb.settings import DATA_DIR_ENV, data_dir, landing_dir

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
    assert {m.parent.parent.name for m in manifests} == {
        "reg53",
        "cd22",
        "cd29",
        "cd35",
        "cd56",
        "bmo",
        "rmo",
    }
    assert (tmp_path / "synthetic_truth" / "persons.parquet").exists()
    assert "extraits" in result.output


def test_synth_refuses_a_malformed_month_in_french(tmp_path):
    result = runner.invoke(app, ["synth", "--start", "janvier", "--out", str(tmp_path / "l")])
    assert result.exit_code == 2
    assert "AAAA-MM" in result.output
