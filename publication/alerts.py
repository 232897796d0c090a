"""Alerts when the gate blocks a publication: always a line in the alerts log, and a message to a
webhook (SPIFEB_ALERT_WEBHOOK) or an SMTP server (SPIFEB_ALERT_SMTP=host:port, SPIFEB_ALERT_TO)
when configured. Nothing leaves the machine by default."""

from __future__ import annotations

import datetime as dt
import json
import os
import smtplib
import urllib.request
from email.message import EmailMessage
from pathlib import Path

ALERTS_LOG = "alerts.log"


def message(publication_id: str, failed) -> str:
    lines = [
        f"Publication {publication_id} bloquée par le contrôle qualité ; la publication courante est conservée."
    ]
    lines += [f"- {c.name} : {c.detail}" for c in failed]
    return "\n".join(lines)


def raise_alert(published_root: Path, publication_id: str, failed) -> None:
    text = message(publication_id, failed)
    now = dt.datetime.now(dt.UTC).isoformat()
    with (published_root / ALERTS_LOG).open("a", encoding="utf-8") as log:
        log.write(json.dumps({"date": now, "publication": publication_id, "controles_en_echec": [c.name for c in failed]},
                             ensure_ascii=False) + "\n")  # fmt: skip
    webhook = os.environ.get("SPIFEB_ALERT_WEBHOOK")
    if webhook:
        request = urllib.request.Request(
            webhook,
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).close()
    smtp = os.environ.get("SPIFEB_ALERT_SMTP")
    if smtp:
        host, _, port = smtp.partition(":")
        mail = EmailMessage()
        mail["Subject"] = "SPIFEB : publication bloquée"
        mail["From"] = os.environ.get("SPIFEB_ALERT_FROM", "spifeb@localhost")
        mail["To"] = os.environ.get("SPIFEB_ALERT_TO", "exploitation@localhost")
        mail.set_content(text)
        with smtplib.SMTP(host, int(port or 25), timeout=10) as server:
            server.send_message(mail)
