"""Assemble the synthetic world: every record of every source over the whole window, with the
identity fields each source knows and the life cycle (recorded, corrected, deleted) of the record.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data_contracts import load_catalog
from data_contracts.models import Catalog
from spifeb.synthetic import episodes as ep
from spifeb.synthetic.persons import knowledge
from spifeb.synthetic.world import Draws, Geography, Window

PERSON_ATTRIBUTES = ("sexe", "mois_naissance", "commune_insee", "niveau_diplome")
Histories = dict[tuple[str, str], pl.DataFrame]


def build_histories(
    persons: pl.DataFrame,
    catalog: Catalog,
    geography: Geography,
    params: dict,
    window: Window,
    draws: Draws,
) -> Histories:
    """(source, entity) -> history frame (canonical fields, dates as days, person_key, life cycle)."""
    residence = ep.source_of_residence(persons, catalog)
    departements = {
        s.source: s.departement for s in catalog.sources.values() if s.kind == "departement"
    }
    region = next(s.source for s in catalog.sources.values() if s.kind == "region")
    metropoles = [s.source for s in catalog.sources.values() if s.kind == "metropole"]

    spells = ep.rsa_spells(persons, residence, params, window, draws)
    catalogues = {src: ep.action_catalogue(dep, params) for src, dep in departements.items()}
    actions = ep.pdi_actions(spells, catalogues, params, window, draws)
    aids = ep.aid_decisions(persons, residence, spells, params, window, draws)
    enrolments = ep.region_enrolments(persons, params, window, draws)
    leavers = ep.school_leavers(persons, params, window, draws)
    pathways = ep.plie_pathways(persons, residence, params, window, draws)

    enrolments = _with_ids(enrolments, "stagiaires", region, params, year_of="date_entree")
    pathways = pl.concat(
        [
            _with_ids(pathways.filter(pl.col("source") == m), "plie_participants", m, params)
            for m in metropoles
        ]
    )
    kinds = {s.source: s.kind for s in catalog.sources.values()}
    cofinanced = {
        **{
            src: actions.filter((pl.col("source") == src) & pl.col("cofinancement_fse"))
            for src in departements
        },
        region: enrolments,
        **{
            m: pathways.filter((pl.col("source") == m) & pl.col("cofinancement_fse")).with_columns(
                dispositif_local=pl.lit("PLIE")
            )
            for m in metropoles
        },
    }
    local_code = {
        **{s: "code_action" for s in departements},
        region: "dispositif",
        **{m: "dispositif_local" for m in metropoles},
    }
    operations = ep.operations(cofinanced, local_code, kinds, params, draws)
    actions = ep._attach_operation(actions, operations, "code_action").with_columns(
        code_operation_fse=pl.when(pl.col("cofinancement_fse")).then(pl.col("code_operation_fse"))
    )
    pathways = (
        ep._attach_operation(
            pathways.with_columns(dispositif_local=pl.lit("PLIE")), operations, "dispositif_local"
        )
        .with_columns(
            code_operation_fse=pl.when(pl.col("cofinancement_fse")).then(
                pl.col("code_operation_fse")
            )
        )
        .drop("dispositif_local")
    )
    enrolments = ep.region_financing(enrolments, operations, params)
    training_aid = ep.training_aid(enrolments, params, draws)
    steps = pl.concat(
        [
            _with_ids(s, "plie_etapes", m, params)
            for m in metropoles
            for s in [ep.plie_steps(pathways.filter(pl.col("source") == m), params, draws)]
        ]
    )
    hours = ep.clause_hours(steps, params, window, draws)

    by_entity = {
        "brsa": spells,
        "actions": actions,
        "aides": aids,
        "stagiaires": enrolments,
        "aides_formation": training_aid,
        "decrocheurs": leavers,
        "plie_participants": pathways,
        "plie_etapes": steps,
        "clause_heures": hours,
    }
    histories: Histories = {}
    known = knowledge(persons, kinds_for_knowledge(catalog), params, draws)
    for entity, frame in by_entity.items():
        for source in frame["source"].unique().sort().to_list():
            part = frame.filter(pl.col("source") == source)
            record_id = catalog.entities[entity].record_id
            if record_id not in part.columns:
                part = _with_ids(part, entity, source, params)
            part = _with_identity(
                part, persons, entity, source, known, catalog, geography, params, draws
            )
            histories[(source, entity)] = _with_life_cycle(
                part, entity, params, draws.stream(f"life:{source}:{entity}")
            )
    for source in catalog.sources:
        ops = operations.filter(pl.col("source") == source).drop("_period")
        histories[(source, "operations_fse")] = ops.with_columns(
            person_key=pl.lit(None, pl.Int64),
            _deleted_from=pl.lit(None, pl.Int64),
            _corrected_on=pl.lit(None, pl.Int64),
            _before_correction=pl.lit(None, pl.String),
            _maj_seconds=pl.lit(0, pl.Int64),
        )
    return histories


def kinds_for_knowledge(catalog: Catalog) -> dict[str, str]:
    """Which identity-knowledge profile each source has; the PSAD platforms have their own."""
    return {**{s.source: s.kind for s in catalog.sources.values()}, "psad": "psad"}


def _tag(source: str) -> str:
    digits = "".join(ch for ch in source if ch.isdigit())
    return digits or source.upper()


def _with_ids(
    frame: pl.DataFrame, entity: str, source: str, params: dict, year_of: str | None = None
):
    """Record ids in order of recording, in the source's own format."""
    template = params["lifecycle"]["record_ids"][entity]
    ordered = frame.sort("_visible_from", "person_key", maintain_order=True)
    years = (
        ordered[year_of].cast(pl.Int32).cast(pl.Date).dt.year().to_list()
        if year_of
        else [0] * ordered.height
    )
    ids = [template.format(tag=_tag(source), n=i + 1, year=y) for i, y in enumerate(years)]
    column = load_catalog().entities[entity].record_id
    return ordered.with_columns(pl.Series(column, ids, dtype=pl.String))


def _with_identity(part, persons, entity, source, known, catalog, geography, params, draws):
    """Pseudonyms the source knows, and person attributes for entities that carry them."""
    fields = catalog.entities[entity].fields
    if "pseudo_nir" not in fields:
        return part
    knows_nir, knows_ec = known["psad" if entity == "decrocheurs" else source]
    identity = persons.select(
        "person_key",
        "pseudo_nir",
        "pseudo_ec",
        "sexe",
        "birth_day",
        "niveau_diplome",
        person_commune="commune_insee",
        knows_nir=pl.Series(knows_nir),
        knows_ec=pl.Series(knows_ec),
    )
    joined = part.join(
        identity, on="person_key", how="left", maintain_order="left", suffix="_person"
    )
    joined = joined.with_columns(
        pseudo_nir=pl.when(pl.col("knows_nir")).then(pl.col("pseudo_nir")),
        pseudo_ec=pl.when(pl.col("knows_ec")).then(pl.col("pseudo_ec")),
    )
    if "sexe" in fields:
        start = (
            catalog.entities[entity].date_order[0][0]
            if catalog.entities[entity].date_order
            else "date_reperage"
        )
        commune = ep.commune_as_recorded(
            joined["person_commune"],
            joined[start],
            geography,
            params,
            draws.stream(f"commune:{source}:{entity}"),
        )
        joined = joined.with_columns(
            mois_naissance=pl.col("birth_day")
            .cast(pl.Int32)
            .cast(pl.Date)
            .dt.month_start()
            .cast(pl.Int32)
            .cast(pl.Int64),
            commune_insee=commune,
        )
    drop = ["knows_nir", "knows_ec", "birth_day", "person_commune"]
    if "niveau_diplome" not in fields:
        drop.append("niveau_diplome")
    return joined.drop([c for c in drop if c in joined.columns])


def _with_life_cycle(
    part: pl.DataFrame, entity: str, params: dict, rng: np.random.Generator
) -> pl.DataFrame:
    """When each record is corrected or deleted at the source, and the time of its updates."""
    shares = params["snapshots"]
    n = part.height
    visible = part["_visible_from"].to_numpy()
    deleted = np.where(
        rng.random(n) < shares["deletion_share"], visible + rng.integers(30, 700, n), -1
    )
    corrected = np.where(
        rng.random(n) < shares["correction_share"], visible + rng.integers(20, 400, n), -1
    )
    field = params["lifecycle"]["correctable"].get(entity)
    before = [None] * n
    if field is not None:
        values = part[field].drop_nulls().unique().sort().to_list()
        if len(values) > 1:
            current = part[field].to_list()
            draws = rng.integers(0, len(values), n)
            before = [
                values[d] if values[d] != c else values[(d + 1) % len(values)]
                for c, d in zip(current, draws, strict=True)
            ]
        else:
            corrected[:] = -1
    else:
        corrected[:] = -1
    return part.with_columns(
        _deleted_from=pl.Series(deleted).replace(-1, None),
        _corrected_on=pl.Series(corrected).replace(-1, None),
        _before_correction=pl.Series(before, dtype=pl.String),
        _maj_seconds=pl.Series(rng.integers(8 * 3600, 19 * 3600, n)),
    )
