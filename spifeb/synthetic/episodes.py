"""The true life of every synthetic record: RSA spells, insertion actions, aid decisions, training,
early-school-leaver tracking, PLIE pathways, social-clause hours and ESF operations.

Each function returns, per source, a history frame holding the record's final canonical values
plus `person_key` and `_visible_from` (the day it was first recorded). Dates are days since
1970-01-01 (Int64) until `history_frames` turns them into canonical dtypes; what is not yet known
on an extract date (an end date still in the future) is hidden later, by `snapshot`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data_contracts.models import Catalog
from spifeb.synthetic.world import Draws, Geography, Window, pick, to_days, uniform_days

NEVER = 10**6  # a day far beyond any window: "has not happened"


def _rows(**columns) -> pl.DataFrame:
    """A frame from numpy columns; object arrays hold codes (text), even when empty."""
    return pl.DataFrame(
        [
            pl.Series(k, v.tolist(), dtype=pl.String)
            if isinstance(v, np.ndarray) and v.dtype == object
            else pl.Series(k, v)
            for k, v in columns.items()
        ]
    )


def _null_after(values: np.ndarray, days: np.ndarray) -> list:
    """Object array -> list with None where the event day is NEVER."""
    return [None if d >= NEVER else v for v, d in zip(values.tolist(), days.tolist(), strict=True)]


def source_of_residence(persons: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """person_key -> the département source and, for métropole residents, the métropole source."""
    departement = {
        s.departement: s.source for s in catalog.sources.values() if s.kind == "departement"
    }
    metropole = {s.epci_siren: s.source for s in catalog.sources.values() if s.kind == "metropole"}
    return persons.select(
        "person_key",
        source_departement=pl.col("departement").replace_strict(departement, default=None),
        source_metropole=pl.col("epci_siren").replace_strict(metropole, default=None),
    )


def commune_as_recorded(
    communes: pl.Series, start_days: pl.Series, geography: Geography, params: dict, rng
) -> pl.Series:
    """Older records sometimes still carry the former commune code of a merged commune."""
    # A commune nouvelle often keeps the code of its chef-lieu: only other codes are "former".
    former = (
        geography.former.filter(pl.col("code_insee") != pl.col("code_insee_commune_actuelle"))
        .group_by("code_insee_commune_actuelle")
        .agg(pl.col("code_insee").min())
    )
    old_code = communes.replace_strict(
        dict(zip(former["code_insee_commune_actuelle"], former["code_insee"], strict=True)),
        default=None,
    )
    use_old = (
        (start_days <= to_days(params["former_commune_until"]))
        & pl.Series(rng.random(len(communes)) < params["former_commune_share"])
        & old_code.is_not_null()
    )
    return pl.select(pl.when(use_old).then(old_code).otherwise(communes)).to_series()


# --- Départements: RSA, insertion actions, individual aid ----------------------------------------


def rsa_spells(
    persons: pl.DataFrame, residence: pl.DataFrame, params: dict, window: Window, draws: Draws
) -> pl.DataFrame:
    """RSA entitlement spells (entity brsa) with orientation and contract."""
    rng = draws.stream("rsa")
    p = params["rsa"]
    people = persons.filter(pl.col("profile") == "rsa").join(residence, on="person_key")
    n = people.height
    monthly_hazard = 1 - (1 - p["yearly_exit_rate"]) ** (1 / 12)
    mean_days = 30.44 / monthly_hazard
    open1 = people["first_entry_day"].to_numpy()
    end1 = open1 + rng.exponential(mean_days, n).astype(np.int64) + 1
    reason1 = pick(rng, p["exit_reasons"], n)
    again = ~np.isin(reason1, ["DECES", "DEMENAGEMENT"]) & (rng.random(n) < p["reentry_share"])
    open2 = end1 + uniform_days(rng, p["reentry_delay_days"], n)
    end2 = open2 + rng.exponential(mean_days, n).astype(np.int64) + 1
    reason2 = pick(rng, p["exit_reasons"], n)
    idx = np.concatenate([np.arange(n), np.flatnonzero(again)])
    opened = np.concatenate([open1, open2[again]])
    ended = np.concatenate([end1, end2[again]])
    reason = np.concatenate([reason1, reason2[again]])
    keep = opened <= window.end_day
    idx, opened, ended, reason = idx[keep], opened[keep], ended[keep], reason[keep]
    m = len(idx)

    oriented = rng.random(m) < p["oriented_share"]
    shape = p["orientation_delay_shape"]
    delay = rng.gamma(shape, p["orientation_delay_mean_days"] / shape, m).astype(np.int64)
    orient_day = np.where(oriented & (opened + delay < ended), opened + delay, NEVER)
    orientation = pick(rng, p["orientation"], m)
    referent = np.empty(m, dtype=object)
    for code, spec in p["referent"].items():
        mask = orientation == code
        referent[mask] = pick(rng, spec, int(mask.sum()))
    is_ft = referent == "FRANCE_TRAVAIL"
    signs = rng.random(m) < np.where(
        is_ft, p["contract_share"]["FRANCE_TRAVAIL"], p["contract_share"]["other"]
    )
    contract_day = orient_day + uniform_days(rng, p["contract_delay_days"], m)
    contract_day = np.where(
        signs & (orient_day < NEVER) & (contract_day < ended), contract_day, NEVER
    )
    source = people["source_departement"].to_numpy()[idx]
    return (
        _rows(
            person_key=people["person_key"].to_numpy()[idx],
            source=source.astype(object),
            date_ouverture_droit=opened,
            date_fin_droit=ended,
            motif_fin_droit=reason,
            date_orientation=orient_day,
            orientation=np.asarray(_null_after(orientation, orient_day), dtype=object),
            organisme_referent=np.asarray(_null_after(referent, orient_day), dtype=object),
            date_contrat=contract_day,
            type_contrat=np.asarray(
                _null_after(np.where(is_ft, "PPAE", "CER").astype(object), contract_day),
                dtype=object,
            ),
        )
        .with_columns(pl.col(c).replace(NEVER, None) for c in ("date_orientation", "date_contrat"))
        .with_columns(_visible_from=pl.col("date_ouverture_droit"))
    )


FAMILY_ABBREVIATIONS = {
    "ACCOMPAGNEMENT_GLOBAL": "AG",
    "ACI": "ACI",
    "REMOBILISATION": "REMOB",
    "MOBILITE": "MOB",
    "SANTE": "SANTE",
    "PREQUALIFICATION": "PREQ",
    "ACCOMPAGNEMENT_SOCIAL": "SOC",
}
FAMILY_TITLES = {
    "ACCOMPAGNEMENT_GLOBAL": [
        "Accompagnement global renforcé",
        "Accompagnement global vers l'emploi",
        "Référent de parcours emploi",
    ],
    "ACI": [
        "Chantier d'insertion – maraîchage biologique",
        "Atelier d'insertion – recyclerie",
        "Chantier d'insertion – espaces verts et littoral",
    ],
    "REMOBILISATION": [
        "Remobilisation « Cap vers l'emploi »",
        "Atelier de remobilisation sociale",
        "Dynamique d'insertion",
    ],
    "MOBILITE": ["Plateforme mobilité", "Auto-école sociale", "Location solidaire de véhicules"],
    "SANTE": ["Accompagnement santé-insertion", "Bilan de santé et soins", "Point écoute santé"],
    "PREQUALIFICATION": [
        "Pré-qualification métiers du soin",
        "Pré-qualification bâtiment",
        "Découverte des métiers de l'industrie",
    ],
    "ACCOMPAGNEMENT_SOCIAL": [
        "Accompagnement social individualisé",
        "Budget et logement",
        "Accompagnement familial",
    ],
}


def action_catalogue(departement: str, params: dict) -> pl.DataFrame:
    """A département's PDI catalogue: code, title, family (e.g. PDI22-ACI-014)."""
    size = params["pdi_actions"]["catalogue_size_per_family"]
    rows = []
    for family, abbreviation in FAMILY_ABBREVIATIONS.items():
        for k in range(size):
            number = (int(departement) * 7 + k * 13 + len(family)) % 100 + 1
            code = f"PDI{departement}-{abbreviation}-{number:03d}"
            rows.append(
                {
                    "code_action": code,
                    "libelle_action": FAMILY_TITLES[family][k % 3],
                    "famille_action": family,
                }
            )
    return pl.DataFrame(rows)


def pdi_actions(
    spells: pl.DataFrame,
    catalogues: dict[str, pl.DataFrame],
    params: dict,
    window: Window,
    draws: Draws,
) -> pl.DataFrame:
    """Participations in the départements' insertion actions, after the orientation."""
    rng = draws.stream("actions")
    p = params["pdi_actions"]
    oriented = spells.filter(pl.col("date_orientation").is_not_null())
    counts = rng.poisson(p["per_oriented_spell_mean"], oriented.height)
    idx = np.repeat(np.arange(oriented.height), counts)
    m = len(idx)
    orient = oriented["date_orientation"].to_numpy()[idx]
    spell_end = oriented["date_fin_droit"].to_numpy()[idx]
    room = np.clip(spell_end - orient, 1, 540)
    start = orient + (rng.random(m) * room).astype(np.int64)
    family_index = rng.choice(
        len(p["families"]["codes"]),
        size=m,
        p=np.asarray(p["families"]["weights"]) / sum(p["families"]["weights"]),
    )
    bounds = np.asarray(p["families"]["duration_days"])[family_index]
    end = start + bounds[:, 0] + (rng.random(m) * (bounds[:, 1] - bounds[:, 0])).astype(np.int64)
    family = np.asarray(p["families"]["codes"], dtype=object)[family_index]
    reason = pick(rng, p["exit_reasons"], m)
    frame = _rows(
        person_key=oriented["person_key"].to_numpy()[idx],
        source=oriented["source"].to_numpy()[idx],
        famille_action=family,
        date_entree=start,
        date_sortie=end,
        motif_sortie=reason,
        _pick=rng.integers(0, p["catalogue_size_per_family"], m),
        _u_fse=rng.random(m),
    ).filter(pl.col("date_entree") <= window.end_day)
    catalogue = pl.concat(
        [
            c.with_columns(source=pl.lit(s)).with_columns(
                _pick=pl.int_range(pl.len()).over("famille_action")
            )
            for s, c in catalogues.items()
        ]
    )
    frame = frame.join(catalogue, on=["source", "famille_action", "_pick"], how="left")
    share = p["fse_share_by_family"]
    # Only the first catalogue action of an ESF-eligible family is financed by an ESF operation.
    fse_rate = pl.col("famille_action").replace_strict(share, default=0.0, return_dtype=pl.Float64)
    return frame.with_columns(
        cofinancement_fse=(pl.col("_u_fse") < fse_rate) & (pl.col("_pick") == 0),
        _visible_from=pl.col("date_entree"),
    ).drop("_pick", "_u_fse")


def aid_decisions(
    persons: pl.DataFrame,
    residence: pl.DataFrame,
    spells: pl.DataFrame,
    params: dict,
    window: Window,
    draws: Draws,
) -> pl.DataFrame:
    """Individual aid decisions of the départements: during RSA spells, and FAJ for the young."""
    rng = draws.stream("aides")
    p = params["aides_departement"]
    counts = rng.poisson(p["per_rsa_person_mean"], spells.height)
    idx = np.repeat(np.arange(spells.height), counts)
    start = spells["date_ouverture_droit"].to_numpy()[idx]
    room = np.clip(spells["date_fin_droit"].to_numpy()[idx] - start, 1, 1500)
    rsa_aids = _rows(
        person_key=spells["person_key"].to_numpy()[idx],
        source=spells["source"].to_numpy()[idx],
        date_decision=start + (rng.random(len(idx)) * room).astype(np.int64),
        type_aide=pick(rng, p["types"], len(idx)),
    )
    young = persons.filter(pl.col("profile") == "jeune").join(residence, on="person_key")
    counts = rng.poisson(p["per_jeune_mean"], young.height)
    idx = np.repeat(np.arange(young.height), counts)
    faj = _rows(
        person_key=young["person_key"].to_numpy()[idx],
        source=young["source_departement"].to_numpy()[idx],
        date_decision=young["first_entry_day"].to_numpy()[idx] + rng.integers(0, 400, len(idx)),
        type_aide=np.full(len(idx), "FAJ", dtype=object),
    )
    aids = pl.concat([rsa_aids, faj]).filter(
        pl.col("date_decision").is_between(window.start_day, window.end_day)
    )
    return _with_amounts(aids, p["amount"], rng).with_columns(_visible_from=pl.col("date_decision"))


def _with_amounts(frame: pl.DataFrame, bounds: dict[str, list[int]], rng) -> pl.DataFrame:
    low = frame["type_aide"].replace_strict(
        {k: v[0] for k, v in bounds.items()}, return_dtype=pl.Float64
    )
    high = frame["type_aide"].replace_strict(
        {k: v[1] for k, v in bounds.items()}, return_dtype=pl.Float64
    )
    raw = low + pl.Series(rng.random(frame.height)) * (high - low)
    return frame.with_columns(montant=(raw / 10).round(0) * 10)


# --- Région: training enrolments, training aid, early school leavers --------------------------


def region_enrolments(
    persons: pl.DataFrame, params: dict, window: Window, draws: Draws
) -> pl.DataFrame:
    """Training enrolments: pre-qualification (PREPA) often followed by qualifying training."""
    rng = draws.stream("region")
    p = params["region"]
    n = persons.height
    profile = persons["profile"].to_numpy()
    u_prepa, u_direct = rng.random(n), rng.random(n)
    prepa_rate = np.vectorize(p["prepa_share"].get)(profile)
    direct_rate = np.vectorize(p["qualif_direct_share"].get)(profile)
    in_prepa = u_prepa < prepa_rate
    direct = ~in_prepa & (u_direct < direct_rate)
    first = persons["first_entry_day"].to_numpy()
    entry = first + rng.integers(0, 120, n)
    prepa_end = entry + uniform_days(rng, p["prepa_duration_days"], n)
    after_prepa = in_prepa & (rng.random(n) < p["qualif_after_prepa_share"])
    qualif_entry = np.where(
        in_prepa, prepa_end + uniform_days(rng, p["gap_after_prepa_days"], n), entry
    )
    qualif_end = qualif_entry + uniform_days(rng, p["qualif_duration_days"], n)
    has_qualif = after_prepa | direct
    keys = persons["person_key"].to_numpy()
    prepa = _rows(
        person_key=keys[in_prepa],
        dispositif=pick(rng, p["prepa"], int(in_prepa.sum())),
        date_entree=entry[in_prepa],
        date_fin_prevue=prepa_end[in_prepa],
        resultat=pick(rng, p["results_prepa"], int(in_prepa.sum())),
    )
    qualif = _rows(
        person_key=keys[has_qualif],
        dispositif=pick(rng, p["qualif"], int(has_qualif.sum())),
        date_entree=qualif_entry[has_qualif],
        date_fin_prevue=qualif_end[has_qualif],
        resultat=pick(rng, p["results_qualif"], int(has_qualif.sum())),
    )
    enrolments = pl.concat([prepa, qualif]).filter(pl.col("date_entree") <= window.end_day)
    m = enrolments.height
    planned = (enrolments["date_fin_prevue"] - enrolments["date_entree"]).to_numpy()
    early = (planned * (0.2 + 0.6 * rng.random(m))).astype(np.int64)
    quits = enrolments["resultat"].to_numpy() == "ABANDON"
    exit_day = enrolments["date_entree"].to_numpy() + np.where(quits, early, planned)
    statut = _entry_status(
        enrolments.join(
            persons.select("person_key", "profile"), on="person_key", maintain_order="left"
        )["profile"].to_numpy(),
        rng,
    )
    return enrolments.with_columns(
        date_sortie=pl.Series(exit_day),
        statut_entree=pl.Series(statut.tolist(), dtype=pl.String),
        formacode=pl.Series(rng.choice(["15041", "15061", "22454", "31715", "42829", "43454"], m)),
        organisme_siret=pl.Series([f"{s:014d}" for s in rng.integers(10**13, 10**14 - 1, m)]),
        _cost=pl.Series(planned * rng.uniform(*p["cost_per_day"], m)).round(0),
        _u_fse=pl.Series(rng.random(m)),
        _fse_rate=pl.Series(rng.uniform(*p["fse_rate"], m)),
        _u_other=pl.Series(rng.random(m)),
        source=pl.lit("reg53"),
        _visible_from=pl.col("date_entree")
        + pl.Series(rng.integers(0, 20, m)),  # recorded after entry
    )


def _entry_status(profile: np.ndarray, rng) -> np.ndarray:
    status = np.where(profile == "rsa", "BRSA", np.where(profile == "jeune", "JEUNE", "DE")).astype(
        object
    )
    long_term = (status == "DE") & (rng.random(len(profile)) < 0.35)
    status[long_term] = "DELD"
    other = rng.random(len(profile)) < 0.03
    status[other] = np.where(rng.random(int(other.sum())) < 0.5, "SALARIE", "AUTRE")
    return status


def region_financing(
    enrolments: pl.DataFrame, operations: pl.DataFrame, params: dict
) -> pl.DataFrame:
    """The `financements` list of each enrolment, with an ESF line tied to its operation."""
    with_op = _attach_operation(enrolments, operations, "dispositif")
    rows = []
    for cost, u_fse, rate, u_other, entry, op in with_op.select(
        "_cost", "_u_fse", "_fse_rate", "_u_other", "date_entree", "code_operation_fse"
    ).iter_rows():
        main = (
            "PRIC"
            if (to_days("2019-01-01") <= entry < to_days("2024-01-01") and u_other < 0.5)
            else "REGION"
        )
        if u_fse < params["region"]["fse_share"] and op is not None:
            fse = round(cost * rate, 2)
            rows.append(
                [
                    {
                        "financeur": main,
                        "montant": round(cost - fse, 2),
                        "code_operation_fse": None,
                    },
                    {"financeur": "FSE", "montant": fse, "code_operation_fse": op},
                ]
            )
        else:
            rows.append([{"financeur": main, "montant": float(cost), "code_operation_fse": None}])
    dtype = pl.List(
        pl.Struct({"financeur": pl.String, "montant": pl.Float64, "code_operation_fse": pl.String})
    )
    return with_op.with_columns(financements=pl.Series(rows, dtype=dtype)).drop(
        "_cost", "_u_fse", "_fse_rate", "_u_other", "code_operation_fse"
    )


def training_aid(enrolments: pl.DataFrame, params: dict, draws: Draws) -> pl.DataFrame:
    """Région aid tied to an enrolment: trainee pay, individual training aid, PREPA aid."""
    rng = draws.stream("aides_formation")
    p = params["region"]
    u = rng.random(enrolments.height)
    dispositif = enrolments["dispositif"]
    frames = []
    for type_aide, mask in (
        ("REMUNERATION_STAGIAIRE", u < p["aide_remuneration_share"]),
        (
            "AIF_QUALIF",
            (dispositif == "QUALIF_EMPLOI_INDIVIDUEL").to_numpy()
            & (rng.random(len(u)) < p["aide_aif_share"]),
        ),
        (
            "AIDE_PREPA",
            dispositif.str.starts_with("PREPA").to_numpy()
            & (rng.random(len(u)) < p["aide_prepa_share"]),
        ),
    ):
        chosen = enrolments.filter(pl.Series(mask))
        frames.append(
            chosen.select(
                "person_key",
                "source",
                "inscription_id",
                type_aide=pl.lit(type_aide),
                date_decision=pl.col("date_entree") - 10,
                montant=(pl.col("date_fin_prevue") - pl.col("date_entree")).cast(pl.Float64)
                * {"REMUNERATION_STAGIAIRE": 22.0, "AIF_QUALIF": 18.0, "AIDE_PREPA": 4.0}[
                    type_aide
                ],
            )
        )
    return pl.concat(frames).with_columns(
        montant=pl.col("montant").round(2), _visible_from=pl.col("date_decision")
    )


def school_leavers(
    persons: pl.DataFrame, params: dict, window: Window, draws: Draws
) -> pl.DataFrame:
    """Young people found by the early-school-leaver platforms (PSAD), before training."""
    rng = draws.stream("psad")
    p = params["psad"]
    young = persons.filter(pl.col("profile") == "jeune")
    found = young.filter(pl.Series(rng.random(young.height) < p["found_share_of_jeunes"]))
    m = found.height
    months_before = rng.integers(
        p["months_before_training"][0], p["months_before_training"][1] + 1, m
    )
    found_day = found["first_entry_day"].to_numpy() - (months_before * 30.44).astype(np.int64)
    solution = pick(rng, p["solutions"], m)
    solution_day = found_day + uniform_days(rng, p["solution_delay_days"], m)
    cities = [
        p["platforms"][d][int(u * len(p["platforms"][d]))]
        for d, u in zip(found["departement"].to_list(), rng.random(m).tolist(), strict=True)
    ]
    return (
        found.select("person_key", "commune_insee")
        .with_columns(
            source=pl.lit("reg53"),
            date_reperage=pl.Series(found_day),
            plateforme=pl.Series(
                [f"PSAD-{d}-{c}" for d, c in zip(found["departement"], cities, strict=True)]
            ),
            solution=pl.Series(solution.tolist(), dtype=pl.String),
            date_solution=pl.Series(np.where(solution == "AUCUNE", -1, solution_day)).replace(
                -1, None
            ),
        )
        .filter(pl.col("date_reperage").is_between(to_days("2017-01-01"), window.end_day))
        .with_columns(_visible_from=pl.col("date_reperage"))
    )


# --- Métropoles: PLIE pathways, their steps, social-clause hours ------------------------------


def plie_pathways(
    persons: pl.DataFrame, residence: pl.DataFrame, params: dict, window: Window, draws: Draws
) -> pl.DataFrame:
    """PLIE pathways of residents of the two métropoles."""
    rng = draws.stream("plie")
    p = params["plie"]
    residents = persons.join(residence, on="person_key").filter(
        pl.col("source_metropole").is_not_null()
    )
    rate = (
        residents["profile"]
        .replace_strict(p["share_in_metropole"], return_dtype=pl.Float64)
        .to_numpy()
    )
    chosen = residents.filter(pl.Series(rng.random(residents.height) < rate))
    m = chosen.height
    entry = chosen["first_entry_day"].to_numpy() + rng.integers(30, 400, m)
    exit_day = entry + uniform_days(rng, p["duration_days"], m)
    age = (entry - chosen["birth_day"].to_numpy()) / 365.25
    profile = chosen["profile"].to_numpy()
    niveau = chosen["niveau_diplome"].to_numpy()
    publics = [
        [
            code
            for code, flag in (
                ("BRSA", pr == "rsa"),
                ("DELD", pr == "demandeur_emploi" and u1 < 0.5),
                ("JEUNE_SANS_QUALIF", a < 26 and nv == "infra3"),
                ("TH", u2 < 0.08),
                ("QPV", u3 < 0.25),
                ("SENIOR", a >= 50),
            )
            if flag
        ]
        for pr, a, nv, u1, u2, u3 in zip(
            profile, age, niveau, rng.random(m), rng.random(m), rng.random(m), strict=True
        )
    ]
    return (
        chosen.select("person_key")
        .with_columns(
            source=chosen["source_metropole"],
            date_entree=pl.Series(entry),
            date_sortie=pl.Series(exit_day),
            motif_sortie=pl.Series(pick(rng, p["exit_reasons"], m).tolist(), dtype=pl.String),
            publics=pl.Series(publics, dtype=pl.List(pl.String)),
            cofinancement_fse=pl.Series(rng.random(m) < p["fse_share"]),
            _visible_from=pl.Series(entry),
        )
        .filter(pl.col("date_entree") <= window.end_day)
    )


def plie_steps(pathways: pl.DataFrame, params: dict, draws: Draws) -> pl.DataFrame:
    """The steps of each PLIE pathway, in sequence within it."""
    rng = draws.stream("plie_etapes")
    p = params["plie"]
    counts = 1 + rng.poisson(p["steps_mean"] - 1, pathways.height)
    idx = np.repeat(np.arange(pathways.height), counts)
    m = len(idx)
    entry = pathways["date_entree"].to_numpy()[idx]
    length = pathways["date_sortie"].to_numpy()[idx] - entry
    start = entry + (rng.random(m) * length * 0.9).astype(np.int64)
    end = np.minimum(start + uniform_days(rng, p["step_duration_days"], m), entry + length)
    return _rows(
        participant_id=pathways["participant_id"].to_numpy()[idx].astype(object),
        person_key=pathways["person_key"].to_numpy()[idx],
        source=pathways["source"].to_numpy()[idx].astype(object),
        type_etape=pick(rng, p["step_types"], m),
        date_debut=start,
        date_fin=end,
    ).with_columns(_visible_from=pl.col("date_debut"))


def clause_hours(steps: pl.DataFrame, params: dict, window: Window, draws: Draws) -> pl.DataFrame:
    """Monthly hours worked under social clauses during CLAUSE_SOCIALE steps."""
    rng = draws.stream("clause_heures")
    p = params["plie"]
    clause = steps.filter(pl.col("type_etape") == "CLAUSE_SOCIALE").with_columns(
        start=pl.col("date_debut").cast(pl.Int32).cast(pl.Date).dt.month_start(),
        end=pl.col("date_fin").cast(pl.Int32).cast(pl.Date).dt.month_start(),
    )
    months = clause.with_columns(mois=pl.date_ranges("start", "end", interval="1mo")).explode(
        "mois"
    )
    months = months.filter(pl.col("mois").cast(pl.Int32) <= window.end_day)
    m = months.height
    buyers = [params["plie"]["donneurs_ordre"][s] for s in months["source"].to_list()]
    picks = rng.integers(0, 3, m)
    return months.select("person_key", "source").with_columns(
        marche_id=pl.Series(
            [
                f"M{s.upper()}-{y}-{k + 1:03d}"
                for s, y, k in zip(months["source"], months["mois"].dt.year(), picks, strict=True)
            ]
        ),
        donneur_ordre=pl.Series([b[k] for b, k in zip(buyers, picks, strict=True)]),
        mois=months["mois"].cast(pl.Int32).cast(pl.Int64),
        heures=pl.Series(
            rng.integers(p["clause_hours_per_month"][0], p["clause_hours_per_month"][1], m)
        ).cast(pl.Float64),
        _visible_from=(months["mois"].dt.month_end().cast(pl.Int32) + 5).cast(pl.Int64),
    )


# --- ESF operations --------------------------------------------------------------------------

PERIODS = (
    {
        "until": "2020-12-31",
        "debut": "2015-01-01",
        "fin": "2023-12-31",
        "national": "PON_FSE_2014_2020",
        "regional": "PO_FEDER_FSE_BRETAGNE_2014_2020",
        "year": 2015,
    },
    {
        "until": "2100-01-01",
        "debut": "2021-01-01",
        "fin": "2029-12-31",
        "national": "PN_FSE_PLUS_2021_2027",
        "regional": "PR_FEDER_FSE_PLUS_BRETAGNE_2021_2027",
        "year": 2021,
    },
)


def _period(entry_days: pl.Expr) -> pl.Expr:
    return pl.when(entry_days <= to_days(PERIODS[0]["until"])).then(0).otherwise(1)


def operations(
    participations: dict[str, pl.DataFrame],
    local_code: dict[str, str],
    kinds: dict[str, str],
    params: dict,
    draws: Draws,
) -> pl.DataFrame:
    """One ESF operation per (source, local dispositif, programming period) that has co-financed
    participants: the Région in its regional programme, others in the national one."""
    rng = draws.stream("operations")
    frames = []
    for source, frame in participations.items():
        keys = (
            frame.select(
                dispositif_local=pl.col(local_code[source]), _period=_period(pl.col("date_entree"))
            )
            .unique()
            .sort("dispositif_local", "_period")
        )
        frames.append(keys.with_columns(source=pl.lit(source), _kind=pl.lit(kinds[source])))
    ops = pl.concat(frames).with_columns(_n=pl.int_range(pl.len()).over("source", "_period") + 1)
    m = ops.height
    period = ops["_period"].to_list()
    cost = rng.uniform(*params["operations_fse"]["eligible_cost"], m).round(-2)
    rate = rng.uniform(*params["operations_fse"]["fse_rate"], m)
    programme = [
        PERIODS[k]["regional" if kind == "region" else "national"]
        for k, kind in zip(period, ops["_kind"], strict=True)
    ]
    return ops.with_columns(
        code_operation=pl.format(
            "FSE-{}-{}-{}",
            pl.col("source").str.to_uppercase(),
            pl.Series([PERIODS[k]["year"] for k in period]),
            pl.col("_n").cast(pl.String).str.zfill(3),
        ),
        intitule=pl.format(
            "Opération FSE « {} » – {}", pl.col("dispositif_local"), pl.col("source")
        ),
        programme=pl.Series(programme),
        date_debut=pl.Series([to_days(PERIODS[k]["debut"]) for k in period]),
        date_fin=pl.Series([to_days(PERIODS[k]["fin"]) for k in period]),
        cout_total_eligible=pl.Series(cost),
        montant_fse=pl.Series((cost * rate).round(2)),
        _visible_from=pl.Series([to_days(PERIODS[k]["debut"]) for k in period]),
    ).drop("_kind", "_n")


def _attach_operation(frame: pl.DataFrame, ops: pl.DataFrame, local_code: str) -> pl.DataFrame:
    """The operation code of each participation, from its local dispositif and period."""
    lookup = ops.select(
        "source",
        pl.col("dispositif_local").alias(local_code),
        "_period",
        pl.col("code_operation").alias("code_operation_fse"),
    )
    return (
        frame.with_columns(_period=_period(pl.col("date_entree")))
        .join(lookup, on=["source", local_code, "_period"], how="left", maintain_order="left")
        .drop("_period")
    )
