"""Monitor tests: a keyword scorer (fast, deterministic), a tiny trained run (the real
predictor), generated streams, and a throwaway PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from tests.conftest import NEG, POS, make_rows, tiny_config, write_jsonl
from tunewise.apps.monitor.scoring import Score

START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


class KeywordScorer:
    """negative when a NEG word is in the text, positive for a POS word, else neutral."""

    run_id, version, note = "keywords", "v0", ""

    def __init__(self):
        self.calls = 0
        self.texts: list[str] = []

    def score(self, texts):
        self.calls += 1
        self.texts += texts
        out = []
        for t in texts:
            words = set(t.lower().split())
            if words & set(NEG):
                p = {"neg": 0.9, "pos": 0.05, "neu": 0.05}
            elif words & set(POS):
                p = {"neg": 0.05, "pos": 0.9, "neu": 0.05}
            else:
                p = {"neg": 0.1, "pos": 0.1, "neu": 0.8}
            lab = max(p, key=p.get)
            pol = {"neg": "negative", "pos": "positive", "neu": "neutral"}[lab]
            out.append(Score(lab, pol, p["neg"], p["pos"], p))
        return out


@pytest.fixture
def scorer():
    return KeywordScorer()


def stream(days=30, tickers=("AAPL", "MSFT", "XOM"), per_day=20, burst=("AAPL", (24, 25)), seed=7):
    """The acceptance check's stream shape with keyword texts (unique, so no repeats)."""
    rng = random.Random(seed)
    items = []
    for day in range(days):
        for tk in tickers:
            hot = burst is not None and tk == burst[0] and day in burst[1]
            for k in range(per_day):
                u = rng.random()
                word = (
                    rng.choice(NEG)
                    if u < (0.8 if hot else 0.15)
                    else rng.choice(POS)
                    if u < (0.9 if hot else 0.5)
                    else "steady"
                )
                ts = START + dt.timedelta(days=day, minutes=rng.randrange(24 * 60))
                items.append(
                    {
                        "time": ts.isoformat(),
                        "ticker": tk,
                        "text": f"{word} report number {day} {k} on the {tk.lower()} desk {rng.random():.6f}",
                        "id": f"{tk}-{day}-{k}",
                    }
                )
    items.sort(key=lambda x: x["time"])
    return items


def write_stream(path: Path, items) -> Path:
    path.write_text("".join(json.dumps(i) + "\n" for i in items))
    return path


@pytest.fixture(scope="session")
def tiny_run(tiny_model_dir, tmp_path_factory) -> Path:
    """A finished pos/neg classification run on the tiny BERT (a real predictor)."""
    import tunewise

    tmp = tmp_path_factory.mktemp("monitor-run")
    data = {
        s: write_jsonl(tmp / f"{s}.jsonl", make_rows(n, i + 20))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 40)))
    }
    return tunewise.train(tiny_config(tiny_model_dir, data, tmp / "run", epochs=4)).path


# -- PostgreSQL -----------------------------------------------------------------------------
from tests.pgserver import postgres  # noqa: E402, F401  (the session's shared real server)


@pytest.fixture(scope="session")
def pg_url(postgres):  # noqa: F811
    """A database of the monitor's own on the session's real PostgreSQL server."""
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(postgres.url, autocommit=True) as c:
        c.execute("CREATE DATABASE monitor")
    return postgres.url.rsplit("/", 1)[0] + "/monitor"
