"""The publication's HTML report: one self-contained French file (no script, nothing fetched),
charts as inline SVG, grid values as published and suppressed cells shown as `s`; it renders in
headless Chromium without console errors and is not blank. And `spifeb report`.

Chromium is Debian's package (`make browser`, a dependency of `make test`), driven through the
Chrome DevTools Protocol over the pipe it opens with `--remote-debugging-pipe`.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import io
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest
from PIL import Image
from typer.testing import CliRunner

from publication import charts
from publication.report import KEY_INDICATORS, REPORT, report_html
from spifeb.cli import app
from spifeb.settings import DATA_DIR_ENV

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--mute-audio",
]  # fmt: skip
CHART_SECTIONS = ["cohortes", "survie", "rsa", "fse", "qualite"]
runner = CliRunner()


# --- Headless Chromium over the DevTools protocol -------------------------------------------------


class DevTools:
    """One Chromium process; JSON messages ending with a NUL byte on its fds 3 (in) and 4 (out)."""

    def __init__(self, profile: Path, timeout: float = 60.0):
        if not Path(CHROMIUM).exists():
            pytest.fail("chromium absent : lancez `make browser` (Debian, paquet chromium)")
        # Above 10 (bash, not sh, for such fds): `3<&r 4>&w` cannot overwrite one with the other.
        to_browser, self._writer = self._high_pipe()
        self._reader, from_browser = self._high_pipe()
        command = (
            f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser} {to_browser}<&- {from_browser}>&-'
        )
        self.process = subprocess.Popen(
            ["bash", "-c", command, CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--remote-debugging-pipe"],
            pass_fds=(to_browser, from_browser), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        os.close(to_browser)
        os.close(from_browser)
        self.deadline = time.monotonic() + timeout
        self.events: list[dict] = []
        self._buffer = b""
        self._last_id = 0

    @staticmethod
    def _high_pipe() -> tuple[int, int]:
        low = os.pipe()
        high = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in low)
        for fd in low:
            os.close(fd)
        return high

    def _receive(self) -> dict:
        while b"\0" not in self._buffer:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._reader], [], [], remaining)[0]:
                raise TimeoutError("Chromium ne répond pas")
            chunk = os.read(self._reader, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium a fermé le canal DevTools")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._writer, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str) -> dict:
        while True:
            found = [e for e in self.events if e.get("method") == method
                     and e.get("sessionId") == session]  # fmt: skip
            if found:
                return found[0]
            self.events.append(self._receive())

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):  # already gone
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._writer)
        os.close(self._reader)


def console_errors(events: list[dict], session: str) -> list[str]:
    """Console errors, uncaught exceptions and browser errors (failed loads…) of one page."""
    errors = []
    for event in (e for e in events if e.get("sessionId") == session):
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled" and params["type"] in (
            "error",
            "assert",
        ):
            errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                   for a in params["args"]))  # fmt: skip
        elif event.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(details.get("exception", {}).get("description", details["text"]))
        elif event.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"]["text"])
    return errors


def render(page: Path, width: int = 1280, height: int = 2400) -> tuple[list[str], bytes]:
    """Open a local page in headless Chromium: its console errors and a PNG screenshot."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        browser = DevTools(Path(profile))
        try:
            target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"
            ]
            for domain in ("Runtime", "Log", "Page"):
                browser.send(f"{domain}.enable", session=session)
            browser.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                         "deviceScaleFactor": 1, "mobile": False}, session)  # fmt: skip
            browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session)
            browser.wait_for("Page.loadEventFired", session)
            browser.send("Runtime.evaluate", {"expression": "1"}, session)  # late messages land
            shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
            return console_errors(browser.events, session), base64.b64decode(shot["data"])
        finally:
            browser.close()


def drawn_share(png: bytes) -> float:
    """Share of pixels that differ from the page's background (its most frequent grey level)."""
    histogram = Image.open(io.BytesIO(png)).convert("L").histogram()
    background = max(range(256), key=histogram.__getitem__)
    near_background = sum(histogram[max(0, background - 8) : background + 9])
    return 1 - near_background / sum(histogram)


def is_blank(png: bytes) -> bool:
    return drawn_share(png) < 0.02


# --- The detectors can fail -----------------------------------------------------------------------


def test_console_error_detector_catches_console_error_and_uncaught_exceptions(tmp_path):
    page = tmp_path / "erreurs.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>page</p><script>console.error('boum console');"
        "setTimeout(() => { throw new Error('boum exception'); }, 0);</script></body></html>",
        encoding="utf-8",
    )
    errors, _ = render(page, height=400)
    assert any("boum console" in e for e in errors), errors
    assert any("boum exception" in e for e in errors), errors


def test_console_error_detector_is_quiet_on_a_clean_page(tmp_path):
    page = tmp_path / "propre.html"
    page.write_text("<!DOCTYPE html><html><body><p>Bonjour</p></body></html>", encoding="utf-8")
    errors, _ = render(page, height=400)
    assert errors == []


def test_blank_detector_flags_a_blank_page_and_not_a_drawn_one(tmp_path):
    blank, drawn = tmp_path / "vide.html", tmp_path / "dessin.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    drawn.write_text(
        "<!DOCTYPE html><html><body><svg width='600' height='300'><rect width='600' "
        "height='300' fill='#000091'/></svg></body></html>",
        encoding="utf-8",
    )
    assert is_blank(render(blank, height=600)[1])
    assert not is_blank(render(drawn, height=600)[1])


# --- The published report -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def publication(publication_root) -> Path:
    return (publication_root / "current").resolve()


@pytest.fixture(scope="module")
def page(publication) -> str:
    return (publication / REPORT).read_text(encoding="utf-8")


def _section(page: str, anchor: str) -> str:
    found = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
    assert found, anchor
    return found.group(1)


def _table_row(page: str, anchor: str, code: str) -> list[str]:
    """The cells of a key-indicator row, by the collectivity's or dispositif's code."""
    row = re.search(rf'<span class="code">{code}</span></th>(.*?)</tr>', _section(page, anchor),
                    re.S)  # fmt: skip
    assert row, code
    return re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))


def test_report_is_one_self_contained_french_file_with_the_five_charts(page):
    assert page.startswith("<!DOCTYPE html>") and '<html lang="fr">' in page
    for anchor in CHART_SECTIONS:
        assert "<svg" in _section(page, anchor), anchor
    assert "<script" not in page.lower()
    assert "<link" not in page.lower() and "@import" not in page and "@font-face" not in page
    external = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//|url\(\s*["']?\s*(?:[a-z]+:)?//""",
                          page, re.I)  # fmt: skip
    assert external == []
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    for heading in ("Synthèse", "Indicateurs clés", "Cohortes", "Kaplan–Meier", "RSA", "FSE",
                    "Qualité des données", "Contrôles qualité", "Extraits utilisés"):  # fmt: skip
        assert any(heading in h for h in headings), (heading, headings)
    assert "s : secret statistique" in page


def test_report_shows_grid_values_as_published_and_suppressed_cells_as_s(page, publication):
    with duckdb.connect(str(publication / "spifeb.duckdb"), read_only=True) as connection:
        cells = connection.sql(
            "select * from marts.grille_indicateurs where niveau_agregation = 'annee x collectivite' "
            "and annee = (select max(annee) from marts.grille_indicateurs)"
        ).pl()  # fmt: skip
    entrants = cells.filter(pl.col("code_indicateur") == "ENTRANTS", ~pl.col("secret_statistique"))
    assert not entrants.is_empty()
    shown = entrants.row(0, named=True)
    expected = f"{int(shown['valeur']):,}".replace(",", "\u202f")
    cells_shown = _table_row(page, "indicateurs", shown["collectivite"])
    assert cells_shown[KEY_INDICATORS.index("ENTRANTS")] == expected
    secret = cells.filter(pl.col("code_indicateur").is_in(KEY_INDICATORS),
                          pl.col("secret_statistique"))  # fmt: skip
    assert not secret.is_empty(), "the small synthetic publication should have suppressed cells"
    for row in secret.iter_rows(named=True):
        shown = _table_row(page, "indicateurs", row["collectivite"])
        assert shown[KEY_INDICATORS.index(row["code_indicateur"])] == "s", row


def test_report_shows_each_collectivitys_dispositifs(page, publication):
    with duckdb.connect(str(publication / "spifeb.duckdb"), read_only=True) as connection:
        cells = connection.sql(
            "select * from marts.grille_indicateurs where code_indicateur = 'ENTRANTS' "
            "and niveau_agregation = 'annee x collectivite x dispositif' and trimestre = 'TOTAL' "
            "and annee = (select max(annee) from marts.grille_indicateurs)"
        ).pl()  # fmt: skip
    assert cells["collectivite"].n_unique() > 1
    section = _section(page, "indicateurs")
    for row in cells.iter_rows(named=True):
        own = section.split(f'<span class="code">{row["collectivite"]}</span></h4>', 1)[1]
        own = own.split("<h4>", 1)[0]  # this collectivity's table only
        shown = re.search(rf'<span class="code">{row["dispositif"]}</span></th>(.*?)</tr>', own,
                          re.S)  # fmt: skip
        assert shown, row
        value = re.findall(r"<td[^>]*>(.*?)</td>", shown.group(1))[KEY_INDICATORS.index("ENTRANTS")]
        expected = (
            "s" if row["secret_statistique"] else f"{int(row['valeur']):,}".replace(",", "\u202f")
        )
        assert value == expected, row


def test_report_holds_no_person_level_data(page, publication):
    with duckdb.connect(str(publication / "acces_restreint.duckdb"), read_only=True) as connection:
        people = connection.sql("select distinct person_id from marts.parcours limit 200").pl()
    assert not people.is_empty()
    assert not [p for p in people["person_id"] if p in page]


def test_report_renders_in_chromium_without_console_errors_and_is_not_blank(publication):
    errors, screenshot = render(publication / REPORT)
    assert errors == []
    assert not is_blank(screenshot), drawn_share(screenshot)


def test_regenerated_report_is_the_published_one(publication, page):
    manifest = json.loads((publication / "manifest.json").read_text(encoding="utf-8"))
    assert report_html(manifest, publication / "spifeb.duckdb") == page


def test_suppressed_shares_are_not_plotted_as_zero():
    cohort = {"dispositif": "RSA", "collectivite": "cd35", "annee_entree": 2020,
              "trimestre_entree": 1, "membres": 40, "libelle_dispositif": "RSA",
              "libelle_collectivite": "Ille-et-Vilaine"}  # fmt: skip
    frame = pl.DataFrame(
        [
            {**cohort, "horizon_mois": h, "situation": "EMPLOI", "part": p}
            for h, p in [(3, 0.25), (6, None), (12, 0.5)]
        ]
    )
    (values,) = charts.cohort_situations(frame).to_dict()["datasets"].values()
    assert sorted((v["horizon_mois"], v["part"]) for v in values) == [
        (3, 0.25), (6, None), (12, 0.5)
    ]  # fmt: skip


def test_curves_of_large_cohorts_render(tmp_path):
    """At 1,000,000 persons a Kaplan-Meier curve has a step per day: more rows than Altair's
    default guard (5,000) allows; the publication must not fail on it."""
    days = range(1, 1501)
    frame = pl.DataFrame(
        [
            {"evenement": "SORTIE_RSA", "dispositif": "RSA", "collectivite": c,
             "annee_entree": 2020, "trimestre_entree": 1, "libelle_dispositif": "RSA",
             "libelle_collectivite": c, "duree_jours": d, "a_risque": 10_000 - d,
             "survie": 1 - d / 2000, "ic95_bas": 1 - d / 1900, "ic95_haut": 1 - d / 2100}
            for c in ("cd22", "cd29", "cd35", "cd56") for d in days
        ]
    )  # fmt: skip
    svg = charts.to_svg(charts.survival_curves(frame), "km")
    assert svg.startswith("<svg") and "Sortie du RSA" in svg


# --- spifeb report --------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path, publication_root) -> Path:
    """A data directory whose `published/` is the session's publication (read-only use)."""
    (tmp_path / "published").symlink_to(publication_root)
    return tmp_path


def _invoke(data_dir: Path, *args: str):
    return runner.invoke(app, ["report", *args], env={DATA_DIR_ENV: str(data_dir), "COLUMNS": "80"})


def test_report_command_prints_the_current_report(data_dir, publication):
    result = _invoke(data_dir)
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip()).resolve() == publication / REPORT


def test_report_command_opens_the_report_in_a_browser(data_dir, publication, monkeypatch):
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    assert _invoke(data_dir, "--ouvrir").exit_code == 0
    assert opened == [(publication / REPORT).as_uri()]


def test_report_command_regenerates_outside_the_publication(data_dir, publication):
    result = _invoke(data_dir, "--regenerer", "--publication", publication.name)
    assert result.exit_code == 0, result.output
    written = data_dir / "rapports" / f"rapport_{publication.name}.html"
    assert Path(result.stdout.strip().splitlines()[-1]) == written
    assert written.read_text(encoding="utf-8") == (publication / REPORT).read_text(encoding="utf-8")
    chosen = data_dir / "ailleurs" / "rapport.html"
    missing = _invoke(data_dir, "--regenerer", "--sortie", str(chosen))  # a mistyped folder
    assert missing.exit_code == 2 and "dossier introuvable" in missing.output
    chosen.parent.mkdir()
    assert _invoke(data_dir, "--regenerer", "--sortie", str(chosen)).exit_code == 0
    assert "<svg" in chosen.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--publication", "20990101T000000000000Z-abcd"], "publication inconnue"),
        (["--sortie", "rapport.html"], "--sortie ne s'utilise qu'avec --regenerer"),
        (["--regenerer", "--sortie", "published/current/copie.html"], "la publication est immuable"),
    ],
)  # fmt: skip
def test_report_command_user_errors_are_one_french_line(data_dir, monkeypatch, args, message):
    monkeypatch.chdir(data_dir)
    result = _invoke(data_dir, *args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_report_command_without_publication_says_to_run_first(tmp_path):
    result = _invoke(tmp_path)
    assert result.exit_code != 0
    assert result.stderr.strip() == "Erreur : aucune publication : lancez d'abord `spifeb run`."


def test_report_dates_are_in_paris_time():
    from publication.report import french_datetime

    assert (
        french_datetime("2026-12-04T23:53:31+00:00") == "5 décembre 2026 à 00:53 (heure de Paris)"
    )
    assert french_datetime("2026-07-01T10:00:00+00:00") == "1 juillet 2026 à 12:00 (heure de Paris)"
