"""Section 2 of the exchange spec: pseudonyms, normalisation, file and command line.

Only the demonstration key and obviously fake identities appear here.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

import polars as pl
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from spifeb import pseudonymisation as ps
from spifeb.cli import app

DEMO_KEY = b"spifeb-demo-key"


# --- Test vectors from the specification ---------------------------------------------------

NIR_VECTORS = [
    ("1 85 05 35 238 123 45", "NIR|1850535238123", "64a454ed4afe242b0df015393a366af8"),
    ("2 92 11 2A 004 567", "NIR|292112A004567", "2a463c5b444fc76435a0f9eead8e7693"),
    ("185053523812345", "NIR|1850535238123", "64a454ed4afe242b0df015393a366af8"),
]

EC_VECTORS = [
    (
        ("Le Gall", "Anne-Sophie Marie", "1992-11-03", "2"),
        "EC|LEGALL|ANNESOPHIE|19921103|2",
        "88e7eb6d653273ad5550af5befc6b9fa",
    ),
    (
        ("Quéré", "Loïg", "1985-05-17", "1"),
        "EC|QUERE|LOIG|19850517|1",
        "e4b069d94f692c3abc6f5ba9653cc78d",
    ),
    (
        ("N'Diaye", "Aïssatou", "2003-01-30", "2"),
        "EC|NDIAYE|AISSATOU|20030130|2",
        "078b1c57ddfae7a8362c2ce3c7ffab12",
    ),
    (
        ("  de la Tour d'Auvergne ", "Jean Baptiste", "1999-12-31", "1"),
        "EC|DELATOURDAUVERGNE|JEAN|19991231|1",
        "ce82cfb387411a277e925de230d882d5",
    ),
    (
        ("Œuvray", "Bjørn, Paul", "1970-01-01", "1"),
        "EC|OEUVRAY|BJORN|19700101|1",
        "02b729e75ef8fbee798c79e0c759b650",
    ),
]


@pytest.mark.parametrize(("nir", "message", "expected"), NIR_VECTORS)
def test_nir_vectors(nir: str, message: str, expected: str) -> None:
    assert ps.nir_message(nir) == message
    assert ps.pseudonym(message, DEMO_KEY) == expected
    assert ps.pseudo_nir(nir, DEMO_KEY) == expected


@pytest.mark.parametrize(("civil_status", "message", "expected"), EC_VECTORS)
def test_ec_vectors(civil_status: tuple[str, str, str, str], message: str, expected: str) -> None:
    assert ps.ec_message(*civil_status) == message
    assert ps.pseudonym(message, DEMO_KEY) == expected
    assert ps.pseudo_ec(*civil_status, DEMO_KEY) == expected


def test_ec_accepts_date_objects_and_other_sex_codes() -> None:
    (nom, prenoms, iso_date, _), _, expected = EC_VECTORS[0]
    birth = dt.date.fromisoformat(iso_date)
    assert ps.pseudo_ec(nom, prenoms, birth, "2", DEMO_KEY) == expected
    assert ps.pseudo_ec(nom, prenoms, "03/11/1992", "F", DEMO_KEY) == expected
    assert ps.pseudo_ec(nom, prenoms, birth, "f", DEMO_KEY) == expected


def test_pseudonyms_depend_on_the_key() -> None:
    nir, _, expected = NIR_VECTORS[0]
    assert ps.pseudo_nir(nir, b"another-key") != expected


# --- Pieces ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_names", "first"),
    [
        ("Anne-Sophie Marie", "Anne-Sophie"),
        ("Jean Baptiste", "Jean"),
        ("Bjørn, Paul", "Bjørn"),
        ("Paul,Pierre", "Paul"),
        ("  Prenomfictif  ", "Prenomfictif"),
        ("Prenomfictif", "Prenomfictif"),
    ],
)
def test_first_given_name(given_names: str, first: str) -> None:
    assert ps.first_given_name(given_names) == first


def test_nir13_accepts_lower_case_corsica_and_any_white_space() -> None:
    assert ps.nir13("2 92 11 2a 004 567") == "292112A004567"
    assert ps.nir13("1\t85 05\u00a035 238 123 45") == "1850535238123"


@pytest.mark.parametrize(
    "bad_nir",
    ["1850535238", "18505352381234", "1850535238123456", "185053X238123", "18505352A8123"],
)
def test_nir13_rejects_bad_shapes_without_quoting_them(bad_nir: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        ps.nir13(bad_nir)
    assert bad_nir not in str(excinfo.value)


@pytest.mark.parametrize("bad_date", ["1992-13-01", "31/02/1992", "1992/11/03", "03-11-1992"])
def test_bad_birth_dates_are_refused(bad_date: str) -> None:
    with pytest.raises(ValueError):
        ps.parse_birth_date(bad_date)


@pytest.mark.parametrize(
    ("raw", "code"), [("1", "1"), ("M", "1"), ("h", "1"), ("F", "2"), ("2", "2")]
)
def test_sex_codes(raw: str, code: str) -> None:
    assert ps.normalise_sexe(raw) == code


def test_empty_normalised_names_are_refused() -> None:
    with pytest.raises(ValueError):
        ps.ec_message("Testnom", "—", "2000-01-01", "1")


# --- Normalisation properties ----------------------------------------------------------------

COMBINING_MARKS = [chr(c) for c in range(0x0300, 0x0370)]
LATIN_OR_SEPARATOR = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ -'’,.0123456789"


@given(st.text())
def test_normalise_is_idempotent(text: str) -> None:
    once = ps.normalise_name(text)
    assert ps.normalise_name(once) == once


@given(st.text())
def test_normalise_outputs_a_to_z_only(text: str) -> None:
    assert re.fullmatch(r"[A-Z]*", ps.normalise_name(text))


@given(st.text())
def test_normalise_ignores_case(text: str) -> None:
    expected = ps.normalise_name(text)
    assert ps.normalise_name(text.upper()) == expected
    assert ps.normalise_name(text.lower()) == expected


@given(st.text())
def test_normalise_ignores_unicode_composition(text: str) -> None:
    expected = ps.normalise_name(text)
    assert ps.normalise_name(unicodedata.normalize("NFC", text)) == expected
    assert ps.normalise_name(unicodedata.normalize("NFD", text)) == expected


@given(
    st.lists(
        st.tuples(
            st.sampled_from(LATIN_OR_SEPARATOR),
            st.lists(st.sampled_from(COMBINING_MARKS), max_size=3),
        ),
        max_size=30,
    )
)
def test_accents_do_not_matter(letters: list[tuple[str, list[str]]]) -> None:
    plain = "".join(base for base, _ in letters)
    accented = unicodedata.normalize("NFC", "".join(base + "".join(m) for base, m in letters))
    expected = re.sub(r"[^A-Z]", "", plain.upper())
    assert ps.normalise_name(accented) == expected
    assert ps.normalise_name(plain) == expected


FRENCH_LETTERS = {
    "àâäáãå": "a",
    "ç": "c",
    "éèêë": "e",
    "îïíì": "i",
    "ñ": "n",
    "ôöóòõø": "o",
    "ùûüú": "u",
    "ÿý": "y",
    "đ": "d",
    "ł": "l",
}
ACCENT_TABLE = {accented: base for group, base in FRENCH_LETTERS.items() for accented in group} | {
    accented.upper(): base.upper() for group, base in FRENCH_LETTERS.items() for accented in group
}


@given(st.text(alphabet=st.sampled_from(sorted(ACCENT_TABLE) + list(LATIN_OR_SEPARATOR))))
def test_stripping_accents_by_hand_does_not_change_the_result(text: str) -> None:
    stripped = "".join(ACCENT_TABLE.get(c, c) for c in text)
    assert ps.normalise_name(text) == ps.normalise_name(stripped)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Œœ", "OEOE"),
        ("Ææ", "AEAE"),
        ("Øø", "OO"),
        ("ßẞ", "SSSS"),
        ("Đđ", "DD"),
        ("Łł", "LL"),
        ("Testnom-Fictif", "TESTNOMFICTIF"),
    ],
)
def test_ligatures_and_special_letters(text: str, expected: str) -> None:
    assert ps.normalise_name(text) == expected


# --- Key -------------------------------------------------------------------------------------


@pytest.fixture
def no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ps.KEY_ENV_VAR, raising=False)


def test_load_key_from_file_strips_trailing_newline(tmp_path: Path, no_key_in_env: None) -> None:
    key_file = tmp_path / "cle.txt"
    key_file.write_text("spifeb-demo-key\n", encoding="utf-8")
    assert ps.load_key(key_file) == DEMO_KEY


def test_load_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ps.KEY_ENV_VAR, "spifeb-demo-key")
    assert ps.load_key(None) == DEMO_KEY


def test_key_file_takes_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ps.KEY_ENV_VAR, "another-key")
    key_file = tmp_path / "cle.txt"
    key_file.write_bytes(DEMO_KEY)
    assert ps.load_key(key_file) == DEMO_KEY


def test_load_key_without_any_key(tmp_path: Path, no_key_in_env: None) -> None:
    with pytest.raises(ps.MissingKeyError, match=ps.KEY_ENV_VAR):
        ps.load_key(None)
    with pytest.raises(ps.MissingKeyError):
        ps.load_key(tmp_path / "absent.txt")
    empty = tmp_path / "vide.txt"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(ps.MissingKeyError):
        ps.load_key(empty)


# --- Files -----------------------------------------------------------------------------------


def fake_nir(order: int, sex: str = "1") -> str:
    """A well-shaped NIR that belongs to nobody: born in year 00, month 01, abroad (99),
    'commune' 999, with a correct control key. Spaced as people write it."""
    body = f"{sex}0001999999{order:03d}"
    control = 97 - int(body) % 97
    return f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {control:02d}"


HEADER = ["id_personne", "nir", "nom_naissance", "prenoms", "date_naissance", "sexe"]
HEADER += ["commune_residence", "telephone", "niveau_diplome"]

MAPPING = ps.ColumnMapping(
    nir="nir",
    nom="nom_naissance",
    prenoms="prenoms",
    date_naissance="date_naissance",
    sexe="sexe",
    drop=("telephone",),
)


def fake_rows() -> list[list[str]]:
    return [
        ["P001", fake_nir(1), "Testnom", "Prenomfictif Autre", "2000-01-15", "1"],
        ["P002", "", "Testnom-Deux", "Prenomfictif", "14/02/2001", "F"],
        ["P003", fake_nir(3, "2"), "", "", "2002-03-20", "2"],
        ["P004", fake_nir(4), "Testnom", "Prenomfictif", "", "H"],
    ]


def write_csv(
    path: Path, rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8"
) -> None:
    lines = [delimiter.join(HEADER)]
    for number, row in enumerate(rows, start=1):
        lines.append(delimiter.join([*row, "99999", f"00 00 00 00 {number:02d}", "4"]))
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))


def read_out(path: Path, delimiter: str = ",", encoding: str = "utf-8") -> pl.DataFrame:
    text = path.read_bytes().decode(encoding)
    return pl.read_csv(text.encode("utf-8"), separator=delimiter, infer_schema=False)


def test_pseudonymise_file(tmp_path: Path) -> None:
    source, target = tmp_path / "clair.csv", tmp_path / "pseudo.csv"
    write_csv(source, fake_rows())

    summary = ps.pseudonymise_file(source, target, MAPPING, DEMO_KEY)

    out = read_out(target)
    assert out.columns == [
        "id_personne",
        "pseudo_nir",
        "pseudo_ec",
        "annee_mois_naissance",
        "sexe",
        "commune_residence",
        "niveau_diplome",
    ]
    assert out["id_personne"].to_list() == ["P001", "P002", "P003", "P004"]
    assert out["sexe"].to_list() == ["1", "2", "2", "1"]  # a quasi-identifier the spec lets through
    assert out["pseudo_nir"].to_list() == [
        ps.pseudo_nir(fake_nir(1), DEMO_KEY),
        None,
        ps.pseudo_nir(fake_nir(3, "2"), DEMO_KEY),
        ps.pseudo_nir(fake_nir(4), DEMO_KEY),
    ]
    assert out["pseudo_ec"].to_list() == [
        ps.pseudo_ec("Testnom", "Prenomfictif", "2000-01-15", "1", DEMO_KEY),
        ps.pseudo_ec("Testnom-Deux", "Prenomfictif", "2001-02-14", "2", DEMO_KEY),
        None,
        None,
    ]
    assert out["annee_mois_naissance"].to_list() == ["2000-01", "2001-02", "2002-03", None]
    assert summary.rows == 4
    assert (summary.with_pseudo_nir, summary.with_pseudo_ec, summary.with_both) == (3, 2, 1)

    text = target.read_text(encoding="utf-8")
    for clear in ["Testnom", "Prenomfictif", "2000-01-15", "14/02/2001", "00 00 00"]:
        assert clear not in text
    assert "0001999999" not in text.replace(" ", "")


def test_pseudonymise_file_keeps_the_format(tmp_path: Path) -> None:
    source, target = tmp_path / "clair.csv", tmp_path / "pseudo.csv"
    rows = fake_rows()
    rows[0][2] = "Testnomé"
    write_csv(source, rows, delimiter=";", encoding="cp1252")
    mapping = ps.ColumnMapping(
        nir="nir",
        nom="nom_naissance",
        prenoms="prenoms",
        date_naissance="date_naissance",
        sexe="sexe",
        drop=("telephone",),
        birth_month_column="mois_naissance",
    )

    ps.pseudonymise_file(source, target, mapping, DEMO_KEY, delimiter=";", encoding="cp1252")

    out = read_out(target, delimiter=";", encoding="cp1252")
    assert "mois_naissance" in out.columns
    assert out["pseudo_ec"][0] == ps.pseudo_ec(
        "Testnome", "Prenomfictif", "2000-01-15", "1", DEMO_KEY
    )


def test_rows_without_any_pseudonym_are_refused_by_line(tmp_path: Path) -> None:
    source, target = tmp_path / "clair.csv", tmp_path / "pseudo.csv"
    rows = fake_rows()
    rows[2] = ["P003", "", "Testnom", "Prenomfictif", "2002-03-20", ""]
    write_csv(source, rows)

    with pytest.raises(ps.PseudonymisationError) as excinfo:
        ps.pseudonymise_file(source, target, MAPPING, DEMO_KEY)

    message = str(excinfo.value)
    assert re.search(r"ligne\(s\) 4\b", message)
    assert "Testnom" not in message and "Prenomfictif" not in message and "2002" not in message
    assert not target.exists()


def test_malformed_values_are_refused_by_line_without_quoting_them(tmp_path: Path) -> None:
    source, target = tmp_path / "clair.csv", tmp_path / "pseudo.csv"
    rows = fake_rows()
    rows[1][1] = "1 00 01 99 999"
    rows[3][5] = "Zz"
    write_csv(source, rows)

    with pytest.raises(ps.PseudonymisationError) as excinfo:
        ps.pseudonymise_file(source, target, MAPPING, DEMO_KEY)

    message = str(excinfo.value)
    assert re.search(r"NIR.*ligne\(s\) 3\b", message)
    assert re.search(r"sexe.*ligne\(s\) 5\b", message)
    assert "999" not in message and "Zz" not in message


def test_missing_column_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "clair.csv"
    write_csv(source, fake_rows())
    mapping = ps.ColumnMapping(nir="numero_secu")
    with pytest.raises(ps.PseudonymisationError, match="numero_secu"):
        ps.pseudonymise_file(source, tmp_path / "pseudo.csv", mapping, DEMO_KEY)


def test_load_config(tmp_path: Path) -> None:
    config = tmp_path / "correspondance.yaml"
    config.write_text(
        "nir: nir\nnom: nom_naissance\nprenoms: prenoms\ndate_naissance: date_naissance\n"
        "sexe: sexe\ndrop: [telephone]\nbirth_month_column: mois\ndelimiter: ';'\n"
        "encoding: cp1252\n",
        encoding="utf-8",
    )
    loaded = ps.load_config(config)
    assert loaded.mapping == ps.ColumnMapping(
        nir="nir",
        nom="nom_naissance",
        prenoms="prenoms",
        date_naissance="date_naissance",
        sexe="sexe",
        drop=("telephone",),
        birth_month_column="mois",
    )
    assert (loaded.delimiter, loaded.encoding) == (";", "cp1252")

    config.write_text("nir: nir\nnomm: nom\n", encoding="utf-8")
    with pytest.raises(ps.PseudonymisationError, match="nomm"):
        ps.load_config(config)


# --- Command line ----------------------------------------------------------------------------

runner = CliRunner()
MAPPING_OPTIONS = [
    "--nir",
    "nir",
    "--nom",
    "nom_naissance",
    "--prenoms",
    "prenoms",
    "--date-naissance",
    "date_naissance",
    "--sexe",
    "sexe",
    "--drop",
    "telephone",
]


@pytest.fixture
def clear_file(tmp_path: Path) -> Path:
    source = tmp_path / "clair.csv"
    write_csv(source, fake_rows())
    return source


def test_cli_refuses_to_run_without_a_key(clear_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "pseudo.csv"
    result = runner.invoke(
        app,
        ["pseudonymise", str(clear_file), str(target), *MAPPING_OPTIONS],
        env={ps.KEY_ENV_VAR: None},
    )
    assert result.exit_code == 2
    assert "clé" in result.output and ps.KEY_ENV_VAR in result.output
    assert not target.exists()


def test_cli_with_key_in_env(clear_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "pseudo.csv"
    result = runner.invoke(
        app,
        ["pseudonymise", str(clear_file), str(target), *MAPPING_OPTIONS],
        env={ps.KEY_ENV_VAR: "spifeb-demo-key"},
    )
    assert result.exit_code == 0, result.output
    assert "4 ligne(s)" in result.output
    expected = tmp_path / "attendu.csv"
    ps.pseudonymise_file(clear_file, expected, MAPPING, DEMO_KEY)
    assert target.read_bytes() == expected.read_bytes()


def test_cli_with_key_file_and_config(clear_file: Path, tmp_path: Path) -> None:
    key_file = tmp_path / "cle.txt"
    key_file.write_text("spifeb-demo-key\n", encoding="utf-8")
    config = tmp_path / "correspondance.yaml"
    config.write_text(
        "nir: nir\nnom: nom_naissance\nprenoms: prenoms\ndate_naissance: date_naissance\n"
        "sexe: sexe\ndrop: [telephone]\n",
        encoding="utf-8",
    )
    target = tmp_path / "pseudo.csv"
    result = runner.invoke(
        app,
        ["pseudonymise", str(clear_file), str(target), "--config", str(config)],
        env={ps.KEY_ENV_VAR: None},
    )
    assert result.exit_code == 2  # no key yet
    result = runner.invoke(
        app,
        [
            "pseudonymise",
            str(clear_file),
            str(target),
            "--config",
            str(config),
            "--key-file",
            str(key_file),
        ],
        env={ps.KEY_ENV_VAR: None},
    )
    assert result.exit_code == 0, result.output
    out = read_out(target)
    assert out["pseudo_nir"][0] == ps.pseudo_nir(fake_nir(1), DEMO_KEY)
    assert "telephone" not in out.columns


def test_cli_missing_column_is_a_user_error(clear_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["pseudonymise", str(clear_file), str(tmp_path / "pseudo.csv"), "--nir", "numero_secu"],
        env={ps.KEY_ENV_VAR: "spifeb-demo-key"},
    )
    assert result.exit_code == 2
    assert "numero_secu" in result.output and "absente" in result.output


def test_cli_has_no_option_taking_the_key_itself(clear_file: Path, tmp_path: Path) -> None:
    command = typer.main.get_command(app).commands["pseudonymise"]  # type: ignore[attr-defined]
    options = {opt for param in command.params for opt in param.opts}
    assert {opt for opt in options if "key" in opt or "cle" in opt} == {"--key-file"}

    result = runner.invoke(
        app,
        ["pseudonymise", str(clear_file), str(tmp_path / "pseudo.csv"), "--key", "spifeb-demo-key"],
        env={ps.KEY_ENV_VAR: None},
    )
    assert result.exit_code == 2
    assert not (tmp_path / "pseudo.csv").exists()
