"""Where alerts go: a JSONL file, a webhook (POST, retries with backoff), SMTP e-mail.

An alert is stored before it is sent and marked delivered after every sink took it; one
that was not (a crash, a receiver down) is sent again when the monitor starts next.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from tunewise.errors import UserError


class JsonlSink:
    def __init__(self, path: Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f"--alerts {path}: is a folder; give a file name such as alerts.jsonl")
        if not self.path.parent.exists():
            raise UserError(f"--alerts {path}: folder {self.path.parent} does not exist")
        self._ids = set()
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    self._ids.add(json.loads(line).get("id"))
                except ValueError:
                    continue

    def send(self, alert: dict) -> None:
        if alert["id"] in self._ids:  # sent before a crash, not yet marked delivered
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(alert, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._ids.add(alert["id"])


class WebhookSink:
    """POST the alert as JSON; 5xx, 429 and connection errors are retried with backoff."""

    def __init__(self, url: str, retries: int = 4, backoff: float = 0.5, timeout: float = 10):
        if not url.startswith(("http://", "https://")):
            raise UserError(f"--webhook {url}: give an http:// or https:// URL")
        self.url, self.retries, self.backoff, self.timeout = url, retries, backoff, timeout

    def send(self, alert: dict) -> None:
        body = json.dumps(alert).encode()
        last = ""
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(
                self.url,
                data=body,
                headers={"Content-Type": "application/json", "Idempotency-Key": alert["id"]},
                method="POST",
            )
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    if r.status < 300:
                        return
                    last = f"HTTP {r.status}"
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}"
                if e.code < 500 and e.code != 429:
                    raise RuntimeError(f"webhook {self.url} refused the alert: {last}") from None
            except (urllib.error.URLError, OSError) as e:
                last = str(getattr(e, "reason", e))
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        raise RuntimeError(f"webhook {self.url}: {last} after {self.retries + 1} tries")


class SmtpSink:
    """One e-mail per alert through an SMTP server (``smtp://host:port``)."""

    def __init__(self, url: str, to: list[str], sender: str = "tunewise-monitor@localhost"):
        from urllib.parse import urlparse

        u = urlparse(url)
        if u.scheme not in ("smtp", "smtps") or not u.hostname:
            raise UserError(f"--smtp {url}: give smtp://host:port")
        if not to:
            raise UserError("--smtp needs --mail-to ADDRESS")
        self.host, self.port, self.ssl = u.hostname, u.port or 25, u.scheme == "smtps"
        self.user, self.password = u.username, u.password
        self.to, self.sender = to, sender

    def send(self, alert: dict) -> None:
        import smtplib

        ev = alert["evidence"]
        msg = EmailMessage()
        msg["Subject"] = (
            f"[tunewise monitor] {alert['severity']}: {alert['entity']} {alert['direction']} "
            f"share {ev['share']:.0%} (baseline {ev['baseline']['share']:.0%}) "
            f"{alert['window']['start'][:10]}"
        )
        msg["From"], msg["To"] = self.sender, ", ".join(self.to)
        lines = [
            f"{alert['entity']}: {ev['count']} of {ev['n']} items {alert['direction']} in "
            f"{alert['window']['start']} .. {alert['window']['end']}",
            f"baseline: {ev['baseline']['count']} of {ev['baseline']['n']} over "
            f"{ev['baseline']['windows']} windows; p = {alert['p_value']:.2e}",
            "",
            *[f"- {it['text']}" for it in ev["top_items"]],
            "",
            json.dumps(alert, indent=2),
        ]
        msg.set_content("\n".join(lines))
        cls = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with cls(self.host, self.port, timeout=15) as s:
            if self.user:
                s.login(self.user, self.password or "")
            s.send_message(msg)


def deliver(store, sinks: list, alerts: list[dict]) -> int:
    """Send each alert to every sink; mark it delivered when all took it. Returns how many
    were delivered; a failing sink is reported on stderr and retried at the next start."""
    done = 0
    for a in alerts:
        ok = True
        for s in sinks:
            try:
                s.send(a)
            except Exception as e:  # a receiver down must not stop the monitor
                ok = False
                print(f"warning: alert {a['id']} not delivered: {e}", file=sys.stderr)
        if ok:
            store.mark_delivered(a["id"])
            done += 1
    return done
