"""Signs that an extract was not pseudonymised (spec section 2 and 4): direct-identifier columns,
or values shaped like a NIR, an e-mail address or a phone number in any column.

Findings name the column and the kind of value, never the value itself: they go to reports that
leave the warehouse.
"""

from __future__ import annotations

import re
import unicodedata

import polars as pl

from ingestion.refusals import Refusal

# Column names, normalised (lower case, accents and separators removed).
IDENTIFIER_COLUMNS = {
    "NIR": r"(nir|nir13|nss|numsecu|numerosecu|numsecuritesociale|numeroinsee|secu|securitesociale)",
    "nom": r"(nom|nomnaissance|nomdenaissance|nomusage|nomdusage|nomfamille|lastname|surname|name|nomprenom)",
    "prénom": r"(prenom|prenoms|firstname|givenname)",
    "adresse": r"(adresse|adressepostale|address|rue|voie|numvoie|libellevoie|complementadresse)",
    "e-mail": r"(email|mail|courriel|adressemail|adresseemail|emailaddress)",
    "téléphone": r"(tel|telephone|phone|portable|mobile|numtel|numerotelephone|telfixe|telportable)",
    "date de naissance complète": r"(datenaissancecomplete|datedenaissance|birthdate|dateofbirth|ddn)",
}
# Value shapes, searched inside any text (a NIR hidden in a free-text column counts).
VALUE_SHAPES = {
    "d'un NIR": r"(?:^|[^0-9A-Za-z])[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3}(?: ?\d{2})?(?:$|[^0-9A-Za-z])",
    "d'une adresse e-mail": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "d'un numéro de téléphone": r"(?:^|[^0-9A-Za-z])(?:\+33 ?|0033 ?|0)[1-9](?:[ .-]?\d{2}){4}(?:$|[^0-9A-Za-z])",
}


def _normalised(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    return re.sub(
        r"[^a-z0-9]", "", "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    )


def scan_columns(file_name: str, columns: list[str]) -> list[Refusal]:
    """Columns whose name says they hold a direct identifier."""
    refusals = []
    for column in columns:
        key = _normalised(column)
        for kind, pattern in IDENTIFIER_COLUMNS.items():
            if re.fullmatch(pattern, key):
                refusals.append(
                    Refusal("identifiants_directs", file=file_name, column=column, detail=kind)
                )
    return refusals


def scan_values(file_name: str, native: pl.DataFrame) -> list[Refusal]:
    """Text columns holding values shaped like a NIR, an e-mail or a phone number."""
    checks, labels = [], []
    for column, dtype in native.schema.items():
        if dtype == pl.String:
            text = pl.col(column)
        elif isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
            text = pl.col(column).list.eval(pl.element().struct.json_encode()).list.join(" ")
        else:
            continue
        for kind, pattern in VALUE_SHAPES.items():
            checks.append(text.str.contains(pattern).any().alias(f"check{len(checks)}"))
            labels.append((column, kind))
    if not checks:
        return []
    found = native.select(checks).row(0)
    return [
        Refusal("valeurs_identifiantes", file=file_name, column=column, detail=kind)
        for (column, kind), hit in zip(labels, found, strict=True)
        if hit
    ]
