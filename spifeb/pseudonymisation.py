"""Pseudonymisation of person-level files (section 2 of the exchange specification).

A collectivity runs this on its own clear files *before* sending them: the NIR and the
civil status (birth name, first given name, birth date, sex) are replaced by two keyed
pseudonyms, `pseudo_nir` and `pseudo_ec`, computed with the secret key `K` shared by the
seven collectivities and never given to the warehouse. The birth date is cut to its year
and month; every other direct identifier column is dropped.

    pseudo_nir = HMAC-SHA256(K, "NIR|" + nir13)[:32]
    pseudo_ec  = HMAC-SHA256(K, "EC|" + NOM + "|" + PRENOM + "|" + YYYYMMDD + "|" + SEXE)[:32]

The key is read from a file or from the `SPIFEB_PSEUDO_KEY` environment variable, never
from the command line (it would end up in shell histories and process listings).

Error messages are in French (they reach the collectivities' users) and never quote the
personal values they are about: only column names and line numbers.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import hmac
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

KEY_ENV_VAR = "SPIFEB_PSEUDO_KEY"
"""Environment variable holding the shared key `K` (UTF-8), when no key file is given."""

PSEUDO_NIR_COLUMN = "pseudo_nir"
PSEUDO_EC_COLUMN = "pseudo_ec"
DEFAULT_BIRTH_MONTH_COLUMN = "annee_mois_naissance"
PSEUDONYM_LENGTH = 32

_LIGATURES = str.maketrans(
    {
        "Œ": "OE",
        "œ": "oe",
        "Æ": "AE",
        "æ": "ae",
        "Ø": "O",
        "ø": "o",
        "ẞ": "SS",
        "ß": "ss",
        "Đ": "D",
        "đ": "d",
        "Ł": "L",
        "ł": "l",
    }
)
_NOT_A_TO_Z = re.compile(r"[^A-Z]+")
_GIVEN_NAME_SEPARATOR = re.compile(r"[\s,]")
# 5 digits (sex, year, month), department (2 digits, or 2A/2B for Corsica), 6 digits,
# then the optional 2-digit control key.
_NIR_SHAPE = re.compile(r"\d{5}(?:\d{2}|2A|2B)\d{6}(?:\d{2})?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_FRENCH_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_SEXES = {"1": "1", "2": "2", "M": "1", "H": "1", "F": "2"}


class PseudonymisationError(ValueError):
    """A user error (bad key set-up, bad mapping, bad values): the message is for people, in
    French, and never contains a personal value."""


class MissingKeyError(PseudonymisationError):
    """Neither a key file nor the `SPIFEB_PSEUDO_KEY` environment variable gives a key."""


# --- Normalisation -------------------------------------------------------------------------


def normalise_name(text: str) -> str:
    """Birth name or given name as hashed: ligatures expanded, accents dropped, `A`-`Z` only.

    `"  de la Tour d'Auvergne "` -> `"DELATOURDAUVERGNE"`, `"Œuvray"` -> `"OEUVRAY"`.
    """
    expanded = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    unaccented = "".join(c for c in expanded if not unicodedata.combining(c))
    return _NOT_A_TO_Z.sub("", unaccented.upper())


def first_given_name(given_names: str) -> str:
    """The first given name: the field is cut at its first space or comma (surrounding white
    space ignored); a hyphenated name is one name. Not normalised."""
    return _GIVEN_NAME_SEPARATOR.split(given_names.strip(), maxsplit=1)[0]


def nir13(nir: str) -> str:
    """The NIR without white space, upper case, first 13 characters (control key dropped).

    Raises `PseudonymisationError` (a `ValueError`) when the shape is wrong: 13 or 15
    characters, digits only except `2A`/`2B` as department (characters 6-7).
    """
    compact = "".join(nir.split()).upper()
    if len(compact) not in (13, 15):
        raise PseudonymisationError(
            f"NIR mal formé : {len(compact)} caractères hors espaces, 13 ou 15 attendus."
        )
    if not _NIR_SHAPE.fullmatch(compact):
        raise PseudonymisationError(
            "NIR mal formé : seuls des chiffres sont attendus, "
            "sauf 2A ou 2B comme département (caractères 6 et 7)."
        )
    return compact[:13]


def parse_birth_date(value: dt.date | str) -> dt.date:
    """A birth date given as a `date`, or as text `YYYY-MM-DD` or `DD/MM/YYYY`."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = value.strip()
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = match.groups()
    elif match := _FRENCH_DATE.fullmatch(text):
        day, month, year = match.groups()
    else:
        raise PseudonymisationError(
            "Date de naissance mal formée : AAAA-MM-JJ ou JJ/MM/AAAA attendu."
        )
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise PseudonymisationError("Date de naissance impossible (jour ou mois).") from None


def normalise_sexe(value: str) -> str:
    """`"1"` (male) or `"2"` (female), from `1`/`2`, `M`/`F` or `H`/`F` (any case)."""
    sexe = _SEXES.get(value.strip().upper())
    if sexe is None:
        raise PseudonymisationError("Sexe non reconnu : 1/2, M/F ou H/F attendu.")
    return sexe


# --- Messages and pseudonyms ---------------------------------------------------------------


def nir_message(nir: str) -> str:
    """The message hashed into `pseudo_nir`: `"NIR|" + nir13`."""
    return f"NIR|{nir13(nir)}"


def ec_message(nom: str, prenoms: str, birth_date: dt.date | str, sexe: str) -> str:
    """The message hashed into `pseudo_ec`: `"EC|NOM|PRENOM|YYYYMMDD|SEXE"`.

    `prenoms` is the whole given-names field (only the first one is used). A name that is
    empty once normalised (e.g. written in a non-Latin script only) is refused rather than
    hashed as an empty string, which would link unrelated people.
    """
    nom_norm = normalise_name(nom)
    prenom_norm = normalise_name(first_given_name(prenoms))
    if not nom_norm:
        raise PseudonymisationError("Nom de naissance vide une fois normalisé.")
    if not prenom_norm:
        raise PseudonymisationError("Premier prénom vide une fois normalisé.")
    date = parse_birth_date(birth_date)
    return f"EC|{nom_norm}|{prenom_norm}|{date:%Y%m%d}|{normalise_sexe(sexe)}"


def pseudonym(message: str, key: bytes) -> str:
    """HMAC-SHA256 of the UTF-8 message, hex digest in lower case, first 32 characters."""
    digest = hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH]


def pseudo_nir(nir: str, key: bytes) -> str:
    """`pseudo_nir` of a NIR (with or without control key, spaces allowed)."""
    return pseudonym(nir_message(nir), key)


def pseudo_ec(nom: str, prenoms: str, birth_date: dt.date | str, sexe: str, key: bytes) -> str:
    """`pseudo_ec` of a civil status: birth name, given names, birth date, sex (`"1"`/`"2"`)."""
    return pseudonym(ec_message(nom, prenoms, birth_date, sexe), key)


# --- Key -----------------------------------------------------------------------------------


def load_key(key_file: Path | None) -> bytes:
    """The shared key `K`: the content of `key_file` (trailing newline removed) when given,
    else the `SPIFEB_PSEUDO_KEY` environment variable (UTF-8). Raises `MissingKeyError`."""
    if key_file is not None:
        try:
            key = key_file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise MissingKeyError(
                f"Fichier de clé illisible : {key_file} ({exc.strerror or exc})."
            ) from None
        if not key:
            raise MissingKeyError(f"Le fichier de clé {key_file} est vide.")
        return key
    key_text = os.environ.get(KEY_ENV_VAR, "")
    if not key_text:
        raise MissingKeyError(
            "Aucune clé de pseudonymisation : donnez un fichier de clé (--key-file) "
            f"ou définissez la variable d'environnement {KEY_ENV_VAR}. "
            "La clé ne se passe jamais en ligne de commande."
        )
    return key_text.encode("utf-8")


# --- Files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMapping:
    """Which input columns hold the identifiers. A column the source does not have is `None`.

    `drop` lists further direct-identifier columns to remove (address, phone, e-mail...).
    """

    nir: str | None = None
    nom: str | None = None
    prenoms: str | None = None
    date_naissance: str | None = None
    sexe: str | None = None
    drop: tuple[str, ...] = ()
    birth_month_column: str = DEFAULT_BIRTH_MONTH_COLUMN

    def identifier_columns(self) -> list[str]:
        """Every input column that must not leave the collectivity, in a stable order (sex is a
        quasi-identifier the spec lets through: it is kept, as its code 1/2)."""
        named = [self.nir, self.nom, self.prenoms, self.date_naissance]
        return list(dict.fromkeys([c for c in named if c is not None] + list(self.drop)))

    def civil_status_columns(self) -> tuple[str, str, str, str] | None:
        """(nom, prénoms, date de naissance, sexe) when all four are mapped, else `None`."""
        if self.nom and self.prenoms and self.date_naissance and self.sexe:
            return (self.nom, self.prenoms, self.date_naissance, self.sexe)
        return None


@dataclass(frozen=True)
class PseudonymisationConfig:
    """A mapping file's content: the column mapping plus the CSV format."""

    mapping: ColumnMapping = field(default_factory=ColumnMapping)
    delimiter: str = ","
    encoding: str = "utf-8"


_CONFIG_KEYS = frozenset(
    {
        "nir",
        "nom",
        "prenoms",
        "date_naissance",
        "sexe",
        "drop",
        "birth_month_column",
        "delimiter",
        "encoding",
    }
)


def config_from_dict(raw: Mapping[str, Any]) -> PseudonymisationConfig:
    """Validate a mapping read from YAML (keys: nir, nom, prenoms, date_naissance, sexe,
    drop, birth_month_column, delimiter, encoding; all optional)."""
    unknown = sorted(set(raw) - _CONFIG_KEYS)
    if unknown:
        raise PseudonymisationError(
            f"Clé(s) inconnue(s) dans la configuration : {', '.join(map(str, unknown))}. "
            f"Clés possibles : {', '.join(sorted(_CONFIG_KEYS))}."
        )
    for name in _CONFIG_KEYS - {"drop"}:
        value = raw.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise PseudonymisationError(f"Configuration : « {name} » doit être un texte non vide.")
    drop = raw.get("drop") or []
    if isinstance(drop, str):
        drop = [drop]
    if not isinstance(drop, list) or not all(isinstance(c, str) and c for c in drop):
        raise PseudonymisationError("Configuration : « drop » doit être une liste de colonnes.")
    mapping = ColumnMapping(
        nir=raw.get("nir"),
        nom=raw.get("nom"),
        prenoms=raw.get("prenoms"),
        date_naissance=raw.get("date_naissance"),
        sexe=raw.get("sexe"),
        drop=tuple(drop),
        birth_month_column=raw.get("birth_month_column") or DEFAULT_BIRTH_MONTH_COLUMN,
    )
    return PseudonymisationConfig(
        mapping=mapping,
        delimiter=raw.get("delimiter") or ",",
        encoding=raw.get("encoding") or "utf-8",
    )


def load_config(path: Path) -> PseudonymisationConfig:
    """Read a YAML mapping file (see `config_from_dict`)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PseudonymisationError(
            f"Fichier de configuration illisible : {path} ({exc.strerror or exc})."
        ) from None
    except yaml.YAMLError as exc:
        raise PseudonymisationError(
            f"Fichier de configuration YAML invalide : {path} ({exc})."
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PseudonymisationError(
            f"Le fichier de configuration {path} doit contenir un dictionnaire YAML."
        )
    return config_from_dict(raw)


def merge_mapping(
    base: ColumnMapping,
    *,
    nir: str | None = None,
    nom: str | None = None,
    prenoms: str | None = None,
    date_naissance: str | None = None,
    sexe: str | None = None,
    drop: Iterable[str] = (),
    birth_month_column: str | None = None,
) -> ColumnMapping:
    """`base` with the given (command-line) values taking precedence; `drop` is added."""
    return ColumnMapping(
        nir=nir or base.nir,
        nom=nom or base.nom,
        prenoms=prenoms or base.prenoms,
        date_naissance=date_naissance or base.date_naissance,
        sexe=sexe or base.sexe,
        drop=tuple(dict.fromkeys([*base.drop, *drop])),
        birth_month_column=birth_month_column or base.birth_month_column,
    )


@dataclass(frozen=True)
class PseudonymisationSummary:
    """What was written: counts only, never values."""

    rows: int
    with_pseudo_nir: int
    with_pseudo_ec: int
    with_both: int
    columns: tuple[str, ...]


def _present(value: str | None) -> str | None:
    """The value, or `None` when missing or blank."""
    if value is None or not value.strip():
        return None
    return value


@lru_cache(maxsize=65536)
def _cached_normalise_name(text: str) -> str:
    return normalise_name(text)


def _line_list(lines: Sequence[int], limit: int = 10) -> str:
    shown = ", ".join(str(n) for n in lines[:limit])
    more = len(lines) - limit
    return f"{shown} (et {more} autre(s))" if more > 0 else shown


class _RowErrors:
    """Line numbers of bad rows, grouped by problem (never the values)."""

    def __init__(self) -> None:
        self._by_problem: dict[str, list[int]] = {}

    def add(self, problem: str, line: int) -> None:
        self._by_problem.setdefault(problem, []).append(line)

    def raise_if_any(self) -> None:
        if not self._by_problem:
            return
        parts = [
            f"- {problem} : ligne(s) {_line_list(lines)}"
            for problem, lines in self._by_problem.items()
        ]
        raise PseudonymisationError(
            "Fichier non pseudonymisé, lignes à corriger "
            "(numéros de ligne du fichier, en-tête = ligne 1) :\n" + "\n".join(parts)
        )


def _column(df: pl.DataFrame, name: str | None) -> list[str | None]:
    if name is None:
        return [None] * df.height
    return [_present(v) for v in df.get_column(name).to_list()]


def _pseudonymise_rows(
    df: pl.DataFrame, mapping: ColumnMapping, key: bytes
) -> tuple[list[str | None], list[str | None], list[str | None]]:
    """pseudo_nir, pseudo_ec and birth year-month per row; raises with line numbers."""
    nirs = _column(df, mapping.nir)
    noms = _column(df, mapping.nom)
    prenoms = _column(df, mapping.prenoms)
    dates = _column(df, mapping.date_naissance)
    sexes = _column(df, mapping.sexe)
    has_civil_status = mapping.civil_status_columns() is not None

    out_nir: list[str | None] = []
    out_ec: list[str | None] = []
    out_month: list[str | None] = []
    errors = _RowErrors()
    for index in range(df.height):
        line = index + 2  # header = line 1
        p_nir = p_ec = month = None
        nir = nirs[index]
        if nir is not None:
            try:
                p_nir = pseudonym(f"NIR|{nir13(nir)}", key)
            except PseudonymisationError:
                errors.add(f"NIR mal formé (colonne « {mapping.nir} »)", line)
        birth = None
        if (date_text := dates[index]) is not None:
            try:
                birth = parse_birth_date(date_text)
                month = f"{birth:%Y-%m}"
            except PseudonymisationError:
                errors.add(
                    f"date de naissance mal formée (colonne « {mapping.date_naissance} »)", line
                )
        sexe = None
        if (sexe_text := sexes[index]) is not None:
            try:
                sexe = normalise_sexe(sexe_text)
            except PseudonymisationError:
                errors.add(f"sexe non reconnu (colonne « {mapping.sexe} »)", line)
        nom, prenom = noms[index], prenoms[index]
        if has_civil_status and nom and prenom and birth and sexe:
            nom_norm = _cached_normalise_name(nom)
            prenom_norm = _cached_normalise_name(first_given_name(prenom))
            if nom_norm and prenom_norm:
                p_ec = pseudonym(f"EC|{nom_norm}|{prenom_norm}|{birth:%Y%m%d}|{sexe}", key)
        if p_nir is None and p_ec is None and nir is None:
            errors.add("ni NIR ni état civil complet (aucun pseudonyme calculable)", line)
        out_nir.append(p_nir)
        out_ec.append(p_ec)
        out_month.append(month)
    errors.raise_if_any()
    return out_nir, out_ec, out_month


def _check_mapping(header: Sequence[str], mapping: ColumnMapping) -> None:
    missing = [c for c in mapping.identifier_columns() if c not in header]
    if missing:
        raise PseudonymisationError(
            f"Colonne(s) absente(s) du fichier : {', '.join(missing)}. "
            f"Colonnes présentes : {', '.join(header)}."
        )
    if mapping.nir is None and mapping.civil_status_columns() is None:
        raise PseudonymisationError(
            "Aucun pseudonyme calculable : indiquez la colonne du NIR, "
            "ou les quatre colonnes de l'état civil (nom, prénoms, date de naissance, sexe)."
        )
    kept = set(header) - set(mapping.identifier_columns())
    new = [PSEUDO_NIR_COLUMN, PSEUDO_EC_COLUMN]
    if mapping.date_naissance is not None:
        new.append(mapping.birth_month_column)
    clashes = [c for c in new if c in kept]
    if clashes:
        raise PseudonymisationError(
            f"Le fichier a déjà une colonne {', '.join(clashes)} : "
            "est-il déjà pseudonymisé ? Sinon, renommez-la ou ajoutez-la à « drop »."
        )


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def _decode(raw: bytes, encoding: str) -> tuple[str, bool]:
    """Text of the file, and whether it began with a UTF-8 byte order mark."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise PseudonymisationError(f"Encodage inconnu : {encoding}.") from None
    bom = _is_utf8(encoding) and raw.startswith(codecs.BOM_UTF8)
    if bom:
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode(encoding), bom
    except UnicodeDecodeError as exc:
        raise PseudonymisationError(
            f"Le fichier n'est pas encodé en {encoding} (octet {exc.start}) : "
            "précisez l'encodage (par exemple cp1252 ou latin-1)."
        ) from None


def pseudonymise_file(
    input_csv: Path,
    output_csv: Path,
    mapping: ColumnMapping,
    key: bytes,
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> PseudonymisationSummary:
    """Pseudonymise a clear CSV into `output_csv`, in the same delimiter and encoding.

    Every cell is read as text. `pseudo_nir` and `pseudo_ec` are inserted right after the
    first kept column; the identifier columns (`mapping.identifier_columns()`) are removed,
    the birth date being replaced, at its place, by its year-month (`YYYY-MM`) in
    `mapping.birth_month_column`. A pseudonym is empty when its inputs are missing. Nothing
    is written if a row has a malformed value or no pseudonym at all: the
    `PseudonymisationError` lists the line numbers (header = line 1; assumes no line break
    inside quoted cells), never the values.
    """
    if len(delimiter) != 1:
        raise PseudonymisationError("Le séparateur doit être un seul caractère.")
    if Path(input_csv).resolve() == Path(output_csv).resolve():
        raise PseudonymisationError("Le fichier de sortie doit être différent du fichier d'entrée.")
    try:
        raw = Path(input_csv).read_bytes()
    except OSError as exc:
        raise PseudonymisationError(
            f"Fichier d'entrée illisible : {input_csv} ({exc.strerror or exc})."
        ) from None
    text, bom = _decode(raw, encoding)
    first_line = text.split("\n", 1)[0]
    line_terminator = "\r\n" if first_line.endswith("\r") else "\n"
    try:
        df = pl.read_csv(
            io.StringIO(text),
            separator=delimiter,
            infer_schema=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise PseudonymisationError(f"CSV illisible : {type(exc).__name__}.") from None
    header = df.columns
    _check_mapping(header, mapping)

    out_nir, out_ec, out_month = _pseudonymise_rows(df, mapping, key)

    dropped = set(mapping.identifier_columns())
    columns: list[pl.Series] = []
    for name in header:
        if name == mapping.date_naissance:
            columns.append(pl.Series(mapping.birth_month_column, out_month, dtype=pl.String))
        elif name == mapping.sexe:
            codes = [normalise_sexe(v) if v and v.strip() else None for v in df.get_column(name)]
            columns.append(pl.Series(name, codes, dtype=pl.String))
        elif name not in dropped:
            columns.append(df.get_column(name))
    pseudonyms = [
        pl.Series(PSEUDO_NIR_COLUMN, out_nir, dtype=pl.String),
        pl.Series(PSEUDO_EC_COLUMN, out_ec, dtype=pl.String),
    ]
    columns[1:1] = pseudonyms
    result = pl.DataFrame(columns)

    out_text = result.write_csv(separator=delimiter, line_terminator=line_terminator)
    out_bytes = out_text.encode(encoding)
    if bom:
        out_bytes = codecs.BOM_UTF8 + out_bytes
    Path(output_csv).write_bytes(out_bytes)

    with_nir = sum(p is not None for p in out_nir)
    with_ec = sum(p is not None for p in out_ec)
    with_both = sum(a is not None and b is not None for a, b in zip(out_nir, out_ec, strict=True))
    return PseudonymisationSummary(
        rows=result.height,
        with_pseudo_nir=with_nir,
        with_pseudo_ec=with_ec,
        with_both=with_both,
        columns=tuple(result.columns),
    )
