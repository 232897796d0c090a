"""Synthetic persons: who they are, where they live, and the two pseudonyms the sources send.

Civil status (a made-up NIR, name, first name and birth date) exists only in memory to compute
the pseudonyms exactly as a collectivity would (spec section 2, demonstration key), and to write
the deliberately non-pseudonymised extract of the defect injection. It is never written to the
ground truth. The NIRs are of persons born abroad in a country code no country has (99 9xx), so
they cannot be anybody's.
"""

from __future__ import annotations

import hmac

import numpy as np
import polars as pl

from spifeb.pseudonymisation import normalise_name
from spifeb.synthetic.world import Draws, Geography, Window, pick

DEMO_KEY = b"spifeb-demo-key"

# Made-up name parts: combined, they give tens of thousands of plausible Breton-sounding surnames.
SURNAME_PREFIXES = [
    "Le ",
    "Ker",
    "Lan",
    "Pen",
    "Tré",
    "Plou",
    "Guer",
    "Mor",
    "Quel",
    "Coat",
    "Le Bihan",
    "Gu",
    "Le Gal",
    "Ro",
    "Cor",
    "Bri",
    "Jé",
    "Le Bras",
    "Gou",
    "Ta",
    "Mé",
    "Ri",
    "Da",
    "Ab",
]
SURNAME_ROOTS = [
    "bras",
    "goff",
    "moal",
    "roux",
    "gall",
    "berre",
    "guen",
    "ven",
    "hénaff",
    "floc'h",
    "cam",
    "dreff",
    "lay",
    "merrer",
    "noan",
    "pichon",
    "quéré",
    "rivoal",
    "salaün",
    "tanguy",
    "veur",
    "bihan",
    "corre",
    "dantec",
    "ézan",
    "fur",
    "gléau",
    "hir",
    "jaouen",
    "kervella",
    "lédan",
    "madec",
    "nédélec",
    "olivier",
    "person",
    "quiniou",
    "rolland",
    "scouarnec",
    "téven",
    "uguen",
]
SURNAME_SUFFIXES = ["", "", "", "ec", "ou", "ic", "an", "en", "ès", "ig"]
FIRST_NAMES = {
    "1": [
        "Yann",
        "Loïc",
        "Erwan",
        "Gwenaël",
        "Ronan",
        "Pierre",
        "Thomas",
        "Lucas",
        "Hugo",
        "Mathis",
        "Nolan",
        "Théo",
        "Maël",
        "Kylian",
        "Enzo",
        "Louis",
        "Jean-Marc",
        "Patrick",
        "Éric",
        "Hervé",
        "Mohamed",
        "Youssef",
        "Karim",
        "Sébastien",
        "Stéphane",
        "Julien",
        "Nicolas",
        "Alexandre",
        "Tristan",
        "Brieuc",
        "Corentin",
        "Killian",
        "Malo",
        "Titouan",
        "Noé",
        "Jérôme",
        "Franck",
    ],
    "2": [
        "Anne",
        "Marie",
        "Nolwenn",
        "Gwenaëlle",
        "Maëlle",
        "Léa",
        "Chloé",
        "Emma",
        "Manon",
        "Inès",
        "Camille",
        "Océane",
        "Aziliz",
        "Enora",
        "Rozenn",
        "Sophie",
        "Nathalie",
        "Sandrine",
        "Hélène",
        "Fatou",
        "Aïcha",
        "Sarah",
        "Laëtitia",
        "Céline",
        "Élodie",
        "Anaïs",
        "Jade",
        "Louise",
        "Morgane",
        "Soizic",
        "Katell",
        "Lénaïg",
        "Anne-Sophie",
        "Marie-Hélène",
        "Zoé",
        "Lou",
    ],
}


def _surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = np.asarray(SURNAME_PREFIXES, dtype=object)[rng.integers(0, len(SURNAME_PREFIXES), n)]
    roots = np.asarray(SURNAME_ROOTS, dtype=object)[rng.integers(0, len(SURNAME_ROOTS), n)]
    suffixes = np.asarray(SURNAME_SUFFIXES, dtype=object)[rng.integers(0, len(SURNAME_SUFFIXES), n)]
    joined = prefixes + roots + suffixes
    return np.asarray([s[0].upper() + s[1:] for s in joined], dtype=object)


def _first_names(rng: np.random.Generator, sexe: np.ndarray) -> np.ndarray:
    out = np.empty(len(sexe), dtype=object)
    for code, names in FIRST_NAMES.items():
        mask = sexe == code
        out[mask] = np.asarray(names, dtype=object)[rng.integers(0, len(names), int(mask.sum()))]
    return out


def _hmac32(messages: list[str]) -> list[str]:
    return [hmac.digest(DEMO_KEY, m.encode(), "sha256").hex()[:32] for m in messages]


def _sample_communes(rng: np.random.Generator, geography: Geography, n: int) -> pl.DataFrame:
    communes = geography.communes
    weights = communes["population"].to_numpy().astype(float)
    index = rng.choice(communes.height, size=n, p=weights / weights.sum())
    return communes[index].select("code_insee", "departement", "epci_siren")


def _ages(rng: np.random.Generator, spec: dict, n: int) -> np.ndarray:
    bands = np.asarray(spec["bands"], dtype=float)
    which = rng.choice(len(bands), size=n, p=np.asarray(spec["weights"]) / sum(spec["weights"]))
    return bands[which, 0] + rng.random(n) * (bands[which, 1] - bands[which, 0])


def make_persons(
    n: int, window: Window, geography: Geography, params: dict, draws: Draws
) -> pl.DataFrame:
    """One row per synthetic person, with identity, residence and pseudonyms.

    Columns: person_key, profile, sexe, birth_day (days since 1970), first_entry_day, commune_insee,
    departement, epci_siren, niveau_diplome, pseudo_nir, pseudo_ec, homonym_of, and the in-memory
    civil status (nir13, nom, prenoms) that callers must drop before writing anything but the
    clear-extract defect.
    """
    rng = draws.stream("persons")
    profiles = pick(
        rng, {"codes": list(params["profiles"]), "weights": list(params["profiles"].values())}, n
    )
    rsa_lookback = int(params["rsa"]["opened_before_window_years"] * 365.25)
    first_entry = np.where(
        profiles == "rsa",
        rng.integers(window.start_day - rsa_lookback, window.end_day + 1, n),
        rng.integers(window.start_day, window.end_day + 1, n),
    )
    age = np.zeros(n)
    sexe = np.empty(n, dtype=object)
    niveau = np.empty(n, dtype=object)
    for profile in params["profiles"]:
        mask = profiles == profile
        count = int(mask.sum())
        age[mask] = _ages(rng, params["age_at_entry"][profile], count)
        sexe[mask] = np.where(rng.random(count) < params["sexe_femme"][profile], "2", "1")
        spec = params["niveau_diplome"]
        niveau[mask] = pick(rng, {"codes": spec["codes"], "weights": spec[profile]}, count)
    birth_day = (first_entry - age * 365.25).astype(np.int64)
    residence = _sample_communes(rng, geography, n)
    persons = pl.DataFrame(
        {
            "person_key": np.arange(1, n + 1, dtype=np.int64),
            "profile": profiles.astype(str),
            "sexe": sexe.astype(str),
            "birth_day": birth_day,
            "first_entry_day": first_entry.astype(np.int64),
            "niveau_diplome": pl.Series(niveau.tolist(), dtype=pl.String),
        }
    ).with_columns(residence.rename({"code_insee": "commune_insee"}))
    persons = _with_civil_status(persons, rng, params)
    return _with_pseudonyms(persons)


def _with_civil_status(
    persons: pl.DataFrame, rng: np.random.Generator, params: dict
) -> pl.DataFrame:
    n = persons.height
    sexe = persons["sexe"].to_numpy()
    persons = persons.with_columns(
        nom=pl.Series(_surnames(rng, n).tolist(), dtype=pl.String),
        prenoms=pl.Series(_first_names(rng, sexe).tolist(), dtype=pl.String),
    )
    # Homonyms: distinct persons (distinct NIR) with the same name, birth date and sex.
    pairs = round(n * params["identities"]["homonym_pairs_per_10000"] / 10_000)
    homonym_of = np.full(n, -1, dtype=np.int64)
    if pairs and n >= 4:
        chosen = rng.choice(n, size=2 * pairs, replace=False)
        originals, copies = chosen[:pairs], chosen[pairs:]
        homonym_of[copies] = originals
        for column in ("nom", "prenoms", "birth_day", "sexe"):
            values = persons[column].to_numpy().copy()
            values[copies] = values[originals]
            persons = persons.with_columns(pl.Series(column, values))
    persons = persons.with_columns(
        homonym_of=pl.when(pl.Series(homonym_of) >= 0).then(pl.Series(homonym_of) + 1)
    )
    birth = persons["birth_day"].cast(pl.Int32).cast(pl.Date)
    # Made-up NIR: sex, year, month, 99 (born abroad), 9xx (no such country), order.
    order = (
        persons.select(pl.int_range(pl.len()).over(pl.col("sexe"), birth.dt.strftime("%y%m")))
        .to_series()
        .to_numpy()
    )
    nir13 = (
        persons["sexe"]
        + birth.dt.strftime("%y%m")
        + "999"
        + pl.Series(order // 1000 % 100).cast(pl.String).str.zfill(2)
        + pl.Series(order % 1000 + 1).cast(pl.String).str.zfill(3)
    )
    return persons.with_columns(nir13=nir13)


def _with_pseudonyms(persons: pl.DataFrame) -> pl.DataFrame:
    nom_norm = _normalised(persons["nom"])
    prenom_norm = _normalised(persons["prenoms"].str.split(" ").list.first())
    birth = persons["birth_day"].cast(pl.Int32).cast(pl.Date).dt.strftime("%Y%m%d")
    ec_messages = (
        "EC|" + nom_norm + "|" + prenom_norm + "|" + birth + "|" + persons["sexe"]
    ).to_list()
    nir_messages = ("NIR|" + persons["nir13"]).to_list()
    return persons.with_columns(
        pseudo_nir=pl.Series(_hmac32(nir_messages), dtype=pl.String),
        pseudo_ec=pl.Series(_hmac32(ec_messages), dtype=pl.String),
    )


def _normalised(names: pl.Series) -> pl.Series:
    """Normalise each distinct name once (spec section 2), then map back."""
    distinct = names.unique().drop_nulls().to_list()
    mapping = {name: normalise_name(name) for name in distinct}
    return names.replace_strict(mapping, return_dtype=pl.String)


def knowledge(persons: pl.DataFrame, source_kinds: dict[str, str], params: dict, draws: Draws):
    """Which pseudonyms each source knows for each person: {source: (knows_nir, knows_ec)}.

    A source either has a person's NIR or not, so the draw is per person and source; at least
    one of the two pseudonyms is always known.
    """
    rates = params["identities"]
    result = {}
    for source, kind in source_kinds.items():
        rng = draws.stream(f"knowledge:{source}")
        knows_nir = rng.random(persons.height) < rates["knows_nir"][kind]
        knows_ec = rng.random(persons.height) < rates["knows_ec"][kind]
        knows_ec |= ~knows_nir
        result[source] = (knows_nir, knows_ec)
    return result
