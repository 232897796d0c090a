"""Reading half of ingestion: turn one native file into a frame of raw text, driven by its contract.

`read_native(contract, path)` returns one `pl.String` column per native column of the contract
(named by its native name; for JSON lines by its dotted path, e.g. `personne.pseudo_nir`), in
contract order, plus `_line` (Int64), the position of the row in the file:

- CSV: the physical line where the record starts (header = line 1, first data line = 2; a quoted
  value spanning several lines is accounted for);
- JSON lines: the physical line of the object (there is no header: the first object is line 1);
- XLSX: the Excel row number (with layout C's title rows, the first data row is row 4).

Nothing is coerced: every value is the text found in the file, a cell equal to one of
`physical.null_markers` is null. Only the format is branched on (`physical.format`); every other
choice comes from the contract:

- CSV: bytes decoded with `physical.encoding` (a UTF-8 byte order mark is dropped), read by polars
  with `physical.delimiter` and `physical.quote_char`, LF or CRLF. Columns are matched by header
  name (surrounding spaces ignored, then case-insensitively); columns outside the contract are
  dropped, whatever their name (an empty trailing header column included, spec section 4).
- XLSX: fastexcel (calamine), sheet `contract.file.sheet`, header on row `physical.header_row`
  (rows above it, the title, are skipped), every cell read as text so that a column mixing Excel
  date cells and text dates keeps both. Number cells come out without a useless `.0`
  (`35238.0` -> `"35238"`); date cells as ISO text `YYYY-MM-DD`, date-time cells as
  `YYYY-MM-DDTHH:MM:SS` (a date-time at midnight is indistinguishable from a date and comes out
  as a date). A last row whose first cell is `physical.total_label` is dropped when
  `physical.total_row`.
- JSON lines: one object per line, decoded against a schema built from the contract paths, so
  keys outside the contract are ignored wherever they first appear; scalars become text
  (`2` -> `"2"`, `true` -> `"true"`). A `list_of_struct` column (R `financements`) is kept as a
  native polars `List(Struct)` whose sub-fields are text named by their native names.

Rows whose every cell is empty (blank lines, `;;;;`, empty Excel rows) are not data rows and are
dropped (their line numbers are simply absent).

Anything that makes the whole file unusable raises `ReadError` with a French message. Messages
name files, sheets, columns and line numbers, never a cell value: a file that was not
pseudonymised must not leak through an error message, so library exceptions (which quote the
offending text) are never chained (`from None`).
"""

from __future__ import annotations

import codecs
import csv
import json
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import fastexcel
import polars as pl

from data_contracts.models import Contract, Physical

LINE = "_line"
EXTRA = "_extra:"  # prefix of the columns a contract does not know (`keep_extra`)

# Codes of the file-level problems (rules.yaml only has row-level rules).
FICHIER_ILLISIBLE = "fichier_illisible"
ENCODAGE_INVALIDE = "encodage_invalide"
FICHIER_VIDE = "fichier_vide"
FEUILLE_ABSENTE = "feuille_absente"
COLONNE_MANQUANTE = "colonne_manquante"
COLONNE_EN_DOUBLE = "colonne_en_double"
LIGNE_ILLISIBLE = "ligne_illisible"

# fastexcel renders date cells read as text as "YYYY-MM-DD HH:MM:SS[.fff]".
_EXCEL_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00(?:\.0+)?$"
_EXCEL_DATETIME = r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$"
_UTF8_FAMILY = {"utf-8", "utf_8", "utf8", "utf-8-sig", "utf_8_sig"}


class ReadError(Exception):
    """A native file cannot be read at all. `message_fr` never quotes a cell value."""

    def __init__(self, path: Path | str, line: int | None, rule: str, message_fr: str):
        self.path = str(path)
        self.line = line
        self.rule = rule
        self.message_fr = message_fr
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}, ligne {self.line}"
        return f"{where} : {self.message_fr} [{self.rule}]"


@dataclass(frozen=True)
class _Table:
    """A file's cells as text: positional columns `_c0`, `_c1`… plus `_line`, and its header."""

    header: list[str]
    frame: pl.DataFrame
    header_line: int


# --- Public API ----------------------------------------------------------------------------------


def read_native(contract: Contract, path: Path, *, keep_extra: bool = False) -> pl.DataFrame:
    """The data rows of `path` as text, one column per native column of `contract`, plus `_line`.

    With `keep_extra`, the CSV and workbook columns the contract does not know are kept too,
    named `_extra:<header>` (so that their values can be scanned for direct identifiers).
    """
    path = Path(path)
    physical = contract.physical
    if physical.format == "jsonl":
        frame = _read_jsonl(contract, path)
        frame = _apply_null_markers(frame, physical.null_markers, contract.native_columns)
        return _drop_blank_rows(frame)
    if physical.format == "csv":
        table = _read_csv(contract, path)  # null markers applied by the CSV parser
        frame = table.frame
    else:
        table = _read_xlsx(contract, path)
        frame = _apply_null_markers(table.frame, physical.null_markers, _data_columns(table.frame))
    frame = _drop_blank_rows(frame)
    if physical.total_row and physical.total_label:
        frame = _drop_total_row(frame, physical.total_label)
    extra = _extra_columns(contract, table.header, frame) if keep_extra else []
    frame = _select_contract_columns(contract, path, table.header, table.header_line, frame)
    frame = frame.with_columns(extra) if extra else frame
    if physical.format == "xlsx":
        frame = _excel_dates_to_iso(frame, contract.native_columns)
    return frame


def read_header(contract: Contract, path: Path) -> list[str]:
    """The column names as written in the file (for JSON lines: every key path seen, dotted).

    Used to look for signs of direct identifiers (a `NIR`, `nom` or `email` column) before
    anything else is read.
    """
    path = Path(path)
    physical = contract.physical
    if physical.format == "csv":
        text = _decode(path, physical)
        return _parse_csv_header(_header_text(text, physical.header_row, path), physical)
    if physical.format == "xlsx":
        return _read_xlsx(contract, path, header_only=True).header
    text = _decode(path, physical)
    keys: dict[str, None] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            try:
                _collect_keys(json.loads(line), "", keys)
            except ValueError:
                raise ReadError(path, number, LIGNE_ILLISIBLE, "Ligne JSON invalide.") from None
    return list(keys)


# --- Bytes and text ------------------------------------------------------------------------------


def _decode(path: Path, physical: Physical) -> str:
    """The file's text: decoded with the contract's encoding, without a UTF-8 byte order mark."""
    return _decode_bytes(path, physical)[0]


def _decode_bytes(path: Path, physical: Physical) -> tuple[str, bytes]:
    """The file's text, and the same text as UTF-8 bytes (what polars reads)."""
    try:
        raw = path.read_bytes()
    except OSError:
        raise ReadError(
            path, None, FICHIER_ILLISIBLE, "Fichier introuvable ou illisible."
        ) from None
    encoding = (physical.encoding or "utf-8").lower()
    has_bom = raw.startswith(codecs.BOM_UTF8)
    if encoding in _UTF8_FAMILY:
        raw = raw.removeprefix(codecs.BOM_UTF8)
    elif has_bom or (not raw.isascii() and _is_utf8(raw)):
        raise ReadError(
            path,
            None,
            ENCODAGE_INVALIDE,
            f"Le fichier semble encodé en UTF-8 alors que le contrat prévoit {physical.encoding}.",
        )
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ReadError(
            path, line, ENCODAGE_INVALIDE, f"Octets invalides pour l'encodage {physical.encoding}."
        ) from None
    if not text.strip():
        raise ReadError(path, None, FICHIER_VIDE, "Le fichier est vide.")
    return text, raw if encoding in _UTF8_FAMILY else text.encode("utf-8")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# --- CSV -----------------------------------------------------------------------------------------


def _read_csv(contract: Contract, path: Path) -> _Table:
    physical = contract.physical
    text, utf8 = _decode_bytes(path, physical)
    header = _parse_csv_header(_header_text(text, physical.header_row, path), physical)
    try:
        frame = pl.read_csv(
            utf8,
            has_header=True,
            skip_lines=max(physical.header_row - 1, 0),
            separator=physical.delimiter or ",",
            quote_char=physical.quote_char,
            infer_schema=False,
            null_values=[m for m in physical.null_markers if m] or None,
            empty_string_is_null="" in physical.null_markers,
            truncate_ragged_lines=False,
            raise_if_empty=False,
        )
    except (pl.exceptions.PolarsError, OSError):
        # The polars message quotes the offending text: never pass it on.
        raise ReadError(
            path,
            None,
            FICHIER_ILLISIBLE,
            "Structure CSV invalide (nombre de champs incohérent ou guillemets non fermés).",
        ) from None
    if frame.width != len(header):
        raise ReadError(path, physical.header_row, FICHIER_ILLISIBLE, "En-tête CSV illisible.")
    frame = frame.rename(dict(zip(frame.columns, _positional(len(header)), strict=True)))
    first_line = physical.header_row + 1
    quoted = physical.quote_char is not None and physical.quote_char in text
    return _Table(header, _with_csv_lines(frame, first_line, quoted), physical.header_row)


def _header_text(text: str, header_row: int, path: Path) -> str:
    lines = text.split("\n", max(header_row, 1))
    if len(lines) < header_row:
        raise ReadError(path, None, FICHIER_VIDE, "Le fichier ne contient pas d'en-tête.")
    return lines[max(header_row - 1, 0)].rstrip("\r")


def _parse_csv_header(line: str, physical: Physical) -> list[str]:
    if physical.quote_char is None:
        reader = csv.reader([line], delimiter=physical.delimiter or ",", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(
            [line], delimiter=physical.delimiter or ",", quotechar=physical.quote_char
        )
    return next(reader, [])


def _with_csv_lines(frame: pl.DataFrame, first_line: int, quoted: bool) -> pl.DataFrame:
    """Add `_line`: the line a record starts on, counting line breaks inside quoted values."""
    line = pl.int_range(pl.len(), dtype=pl.Int64) + first_line
    if quoted and frame.width:
        breaks = pl.sum_horizontal(
            pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in frame.columns
        ).cast(pl.Int64)
        line = line + breaks.cum_sum() - breaks
    return frame.with_columns(line.alias(LINE))


# --- XLSX ----------------------------------------------------------------------------------------


def _read_xlsx(contract: Contract, path: Path, header_only: bool = False) -> _Table:
    physical = contract.physical
    sheet = contract.file.sheet
    try:
        reader = fastexcel.read_excel(path)
    except (fastexcel.FastExcelError, OSError):
        raise ReadError(
            path, None, FICHIER_ILLISIBLE, "Le fichier n'est pas un classeur Excel lisible."
        ) from None
    if sheet is None:
        sheet = reader.sheet_names[0] if reader.sheet_names else ""
    if sheet not in reader.sheet_names:
        raise ReadError(
            path, None, FEUILLE_ABSENTE, f"La feuille « {sheet} » est absente du classeur."
        )
    header_row = max(physical.header_row, 1)
    try:
        # header_row=None: the header comes back as the first row, with its names untouched
        # (fastexcel would rename duplicates and empty names). Every cell is read as text.
        loaded = reader.load_sheet(
            sheet,
            header_row=None,
            skip_rows=header_row - 1,
            n_rows=1 if header_only else None,
            dtypes="string",
        ).to_polars()
    except fastexcel.FastExcelError:
        raise ReadError(
            path, None, FICHIER_ILLISIBLE, f"La feuille « {sheet} » est illisible."
        ) from None
    if loaded.height == 0:
        raise ReadError(path, None, FICHIER_VIDE, f"La feuille « {sheet} » est vide.")
    header = ["" if v is None else v for v in loaded.row(0)]
    frame = loaded.slice(1).rename(
        dict(zip(loaded.columns, _positional(loaded.width), strict=True))
    )
    frame = frame.with_columns(
        (pl.int_range(pl.len(), dtype=pl.Int64) + header_row + 1).alias(LINE)
    )
    return _Table(header, frame, header_row)


def _drop_total_row(frame: pl.DataFrame, label: str) -> pl.DataFrame:
    """Drop the last row when its first cell is the total label (blank rows already gone)."""
    if frame.height and "_c0" in frame.columns:
        first_cell = frame.get_column("_c0")[-1]
        if first_cell is not None and first_cell.strip() == label:
            return frame.slice(0, frame.height - 1)
    return frame


def _excel_dates_to_iso(frame: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    """fastexcel's rendering of date cells ("2024-01-08 00:00:00") -> ISO text."""
    return frame.with_columns(
        pl.col(c).str.replace(_EXCEL_MIDNIGHT, "${1}").str.replace(_EXCEL_DATETIME, "${1}T${2}")
        for c in columns
    )


# --- JSON lines ----------------------------------------------------------------------------------


def _read_jsonl(contract: Contract, path: Path) -> pl.DataFrame:
    text = _decode(path, contract.physical)
    lines = pl.DataFrame({"_json": text.split("\n")}, schema={"_json": pl.String}).with_columns(
        pl.col("_json").str.strip_chars_end("\r"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 1).alias(LINE),
    )
    lines = lines.filter(pl.col("_json").str.strip_chars() != "")
    dtype = _json_dtype(contract)
    try:
        decoded = lines.select(LINE, pl.col("_json").str.json_decode(dtype))
    except pl.exceptions.PolarsError:
        bad = _first_undecodable(lines, dtype)
        raise ReadError(
            path,
            bad,
            LIGNE_ILLISIBLE,
            "Ligne JSON invalide ou de structure inattendue (objet attendu, champs du contrat "
            "de type texte, nombre ou booléen).",
        ) from None
    return decoded.select(LINE, *(_json_path(c.native).alias(c.native) for c in contract.columns))


def _json_dtype(contract: Contract) -> pl.Struct:
    """The schema to decode each line against: contract paths only, every leaf as text."""
    tree: dict[str, object] = {}
    for column in contract.columns:
        *parents, leaf = column.native.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
            if not isinstance(node, dict):
                raise ValueError(f"{contract.path}: JSON path {column.native!r} conflicts")
        if column.struct:
            node[leaf] = pl.List(pl.Struct({s.native: pl.String for s in column.struct}))
        else:
            node[leaf] = pl.String
    return _tree_to_struct(tree)


def _tree_to_struct(tree: dict[str, object]) -> pl.Struct:
    return pl.Struct(
        {k: _tree_to_struct(v) if isinstance(v, dict) else v for k, v in tree.items()}  # type: ignore[misc]
    )


def _json_path(native: str) -> pl.Expr:
    expr = pl.col("_json")
    for part in native.split("."):
        expr = expr.struct.field(part)
    return expr


def _first_undecodable(lines: pl.DataFrame, dtype: pl.Struct) -> int | None:
    """The line number of the first line that does not decode (bisection, no value quoted)."""

    def decodes(chunk: pl.DataFrame) -> bool:
        try:
            chunk.select(pl.col("_json").str.json_decode(dtype))
        except pl.exceptions.PolarsError:
            return False
        return True

    lo, hi = 0, lines.height
    if decodes(lines):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if decodes(lines.slice(lo, mid - lo)):
            lo = mid
        else:
            hi = mid
    return int(lines.get_column(LINE)[lo])


def _collect_keys(value: object, prefix: str, keys: dict[str, None]) -> None:
    if isinstance(value, dict):
        for key, sub in value.items():
            name = f"{prefix}{key}"
            keys.setdefault(name, None)
            _collect_keys(sub, f"{name}.", keys)
    elif isinstance(value, list):
        for item in value:
            _collect_keys(item, prefix, keys)


# --- Shared steps --------------------------------------------------------------------------------


def _positional(n: int) -> list[str]:
    return [f"_c{i}" for i in range(n)]


def _data_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c in frame.columns if c != LINE]


def _apply_null_markers(
    frame: pl.DataFrame, markers: list[str], columns: list[str]
) -> pl.DataFrame:
    """A text cell equal to one of the contract's null markers becomes null."""
    names = [n for n in columns if frame.schema[n] == pl.String]
    if not markers or not names:
        return frame
    return frame.with_columns(
        pl.when(pl.col(n).is_in(markers)).then(None).otherwise(pl.col(n)).alias(n) for n in names
    )


def _drop_blank_rows(frame: pl.DataFrame) -> pl.DataFrame:
    columns = _data_columns(frame)
    if not columns:
        return frame
    return frame.filter(~pl.all_horizontal(pl.col(c).is_null() for c in columns))


def _normalise_name(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip()


def _select_contract_columns(
    contract: Contract, path: Path, header: list[str], header_line: int, frame: pl.DataFrame
) -> pl.DataFrame:
    """Pick the contract's columns by header name and name them by their native names."""
    names = [_normalise_name(h) for h in header]
    positions: dict[str, int] = {}
    missing: list[str] = []
    doubled: list[str] = []
    for native in contract.native_columns:
        wanted = _normalise_name(native)
        found = _find(names, lambda n, w=wanted: n == w) or _find(
            names, lambda n, w=wanted: n.casefold() == w.casefold()
        )
        if not found:
            missing.append(native)
        elif len(found) > 1:
            doubled.append(native)
        else:
            positions[native] = found[0]
    if missing:
        listed = ", ".join(f"« {m} »" for m in missing)
        raise ReadError(
            path, header_line, COLONNE_MANQUANTE, f"Colonne(s) absente(s) de l'en-tête : {listed}."
        )
    if doubled:
        listed = ", ".join(f"« {d} »" for d in doubled)
        raise ReadError(
            path, header_line, COLONNE_EN_DOUBLE, f"Colonne(s) en double dans l'en-tête : {listed}."
        )
    return frame.select(
        LINE, *(pl.col(f"_c{positions[n]}").alias(n) for n in contract.native_columns)
    )


def _extra_columns(contract: Contract, header: list[str], frame: pl.DataFrame) -> list[pl.Series]:
    known = {_normalise_name(n).casefold() for n in contract.native_columns}
    return [
        frame[f"_c{i}"].alias(f"{EXTRA}{name}")
        for i, name in enumerate(header)
        if _normalise_name(name).casefold() not in known and f"_c{i}" in frame.columns
    ]


def _find(names: list[str], match: Callable[[str], bool]) -> list[int]:
    return [i for i, n in enumerate(names) if match(n)]
