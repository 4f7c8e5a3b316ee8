"""The monitor's store: SQLite by default (WAL), PostgreSQL by URL, through SQLAlchemy.

The schema is versioned: ``meta.schema_version`` says which of :data:`MIGRATIONS` ran; each
migration runs in its own transaction, and a store written by a newer tunewise is refused.
Every batch (items, their entities, scores, rejects, the source's cursor) is written in one
transaction, so a crash leaves the store as it was before the batch, never half of it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tunewise.errors import UserError

MIGRATIONS: list[list[str]] = [
    [  # 1: items, scores, entities, rejects, cursors, evaluated windows, alerts
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS items (
            id TEXT PRIMARY KEY, ts BIGINT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL,
            dup_of TEXT, similarity REAL, copies INTEGER NOT NULL DEFAULT 1,
            received BIGINT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS items_ts ON items (ts)",
        """CREATE TABLE IF NOT EXISTS item_entities (
            item_id TEXT NOT NULL, entity TEXT NOT NULL, PRIMARY KEY (item_id, entity))""",
        "CREATE INDEX IF NOT EXISTS item_entities_entity ON item_entities (entity)",
        """CREATE TABLE IF NOT EXISTS scores (
            item_id TEXT PRIMARY KEY, label TEXT NOT NULL, polarity TEXT NOT NULL,
            p_neg REAL NOT NULL, p_pos REAL NOT NULL, probs TEXT NOT NULL,
            run_id TEXT NOT NULL, run_version TEXT NOT NULL, scored_at BIGINT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS rejects (
            source TEXT NOT NULL, loc TEXT NOT NULL, reason TEXT NOT NULL, raw TEXT NOT NULL,
            at BIGINT NOT NULL, PRIMARY KEY (source, loc))""",
        "CREATE TABLE IF NOT EXISTS cursors (source TEXT PRIMARY KEY, records BIGINT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS windows (
            window_s BIGINT NOT NULL, start BIGINT NOT NULL, PRIMARY KEY (window_s, start))""",
        """CREATE TABLE IF NOT EXISTS alerts (
            id TEXT PRIMARY KEY, entity TEXT NOT NULL, direction TEXT NOT NULL,
            window_s BIGINT NOT NULL, start BIGINT NOT NULL, severity TEXT NOT NULL,
            p_value REAL NOT NULL, created BIGINT NOT NULL, delivered INTEGER NOT NULL DEFAULT 0,
            body TEXT NOT NULL)""",
    ],
    [  # 2: the entity table (sectors), flagged windows (left out of baselines)
        """CREATE TABLE IF NOT EXISTS entities (
            ticker TEXT PRIMARY KEY, company TEXT NOT NULL, sector TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS alerts_entity ON alerts (entity, start)",
        """CREATE TABLE IF NOT EXISTS flags (
            entity TEXT NOT NULL, direction TEXT NOT NULL, window_s BIGINT NOT NULL,
            start BIGINT NOT NULL, PRIMARY KEY (entity, direction, window_s, start))""",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def engine_url(db: str) -> str:
    """A SQLAlchemy URL for ``--db``: a file path (SQLite) or a postgresql:// URL."""
    if db.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    if "://" in db and not db.startswith("sqlite"):
        raise UserError(f"--db {db}: give a file path (SQLite) or a postgresql:// URL")
    if db.startswith("sqlite"):
        return db
    p = Path(db)
    if p.is_dir():
        raise UserError(f"--db {db}: is a folder; give a file name such as monitor.db")
    if not p.parent.exists():
        raise UserError(f"--db {db}: folder {p.parent} does not exist")
    return f"sqlite:///{p}"


class Store:
    """One monitor database (schema migrated on open)."""

    def __init__(self, db: str, create: bool = True):
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import OperationalError

        url = engine_url(str(db))
        self.sqlite = url.startswith("sqlite")
        if self.sqlite and not create and not Path(url.removeprefix("sqlite:///")).is_file():
            raise UserError(f"--db {db}: no such file (run `tunewise monitor run` first)")
        self.engine = create_engine(url, future=True, pool_pre_ping=not self.sqlite)
        if self.sqlite:

            @event.listens_for(self.engine, "connect")
            def _pragmas(conn, _):
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=10000")
                cur.close()

        try:
            self.migrate()
        except OperationalError as e:
            raise UserError(f"--db {db}: cannot open the store ({str(e.orig)[:160]})") from None
        except Exception as e:  # psycopg's connection errors
            if type(e).__module__.startswith(("psycopg", "sqlalchemy")):
                raise UserError(f"--db {db}: cannot open the store ({str(e)[:160]})") from None
            raise

    # -- schema -------------------------------------------------------------------------
    def version(self) -> int:
        from sqlalchemy import inspect

        if "meta" not in inspect(self.engine).get_table_names():
            return 0
        row = self.one("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(row[0]) if row else 0

    def migrate(self, upto: int = SCHEMA_VERSION) -> None:
        from sqlalchemy import text

        have = self.version()
        if have > SCHEMA_VERSION:
            raise UserError(
                f"the store has schema version {have}; this tunewise knows up to "
                f"{SCHEMA_VERSION}: upgrade tunewise"
            )
        for v in range(have + 1, upto + 1):
            with self.engine.begin() as c:  # one migration, one transaction
                for stmt in MIGRATIONS[v - 1]:
                    c.execute(text(stmt))
                c.execute(
                    text(
                        "INSERT INTO meta (key, value) VALUES ('schema_version', :v) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                    ),
                    {"v": str(v)},
                )

    # -- small helpers ------------------------------------------------------------------
    def all(self, sql: str, **params) -> list:
        from sqlalchemy import text

        with self.engine.connect() as c:
            return list(c.execute(text(sql), params))

    def one(self, sql: str, **params):
        rows = self.all(sql, **params)
        return rows[0] if rows else None

    def get_meta(self, key: str) -> str | None:
        row = self.one("SELECT value FROM meta WHERE key = :k", k=key)
        return row[0] if row else None

    # -- writing ------------------------------------------------------------------------
    def existing(self, ids: list[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join(f":i{k}" for k in range(len(chunk)))
            rows = self.all(
                f"SELECT id FROM items WHERE id IN ({marks})",
                **{f"i{k}": v for k, v in enumerate(chunk)},
            )
            out.update(r[0] for r in rows)
        return out

    def write_batch(self, items, scores, dups, rejects, cursor, run, meta=None, more=()) -> None:
        """One transaction: new items (with entities), their scores, repeats linked to their
        first item, rejects, and where the source stands.

        Args:
            items: ``Item`` objects (entities filled in).
            scores: item id -> ``Score`` for the items that are not repeats.
            dups: item id -> (first item's id, similarity).
            cursor: (source, records taken) or None.
            run: (run id, version).
            more: (item id, entity) pairs that stored items are also about.
        """
        from sqlalchemy import text

        now = int(time.time())
        rows, ents, copies, scored = [], [], [], []
        for it in items:
            d = dups.get(it.id)
            rows.append(
                {
                    "id": it.id,
                    "ts": it.ts,
                    "src": it.source,
                    "text": it.text,
                    "dup": d[0] if d else None,
                    "sim": d[1] if d else None,
                    "now": now,
                }
            )
            ents += [{"i": it.id, "e": e} for e in it.entities]
            if d:
                copies.append({"i": d[0]})
            s = scores.get(it.id)
            if s is not None:
                scored.append(
                    {
                        "i": it.id,
                        "l": s.label,
                        "pol": s.polarity,
                        "pn": s.p_neg,
                        "pp": s.p_pos,
                        "probs": json.dumps(s.probs),
                        "rid": run[0],
                        "rv": run[1],
                        "now": now,
                    }
                )
        ents += [{"i": iid, "e": e} for iid, e in more]
        # one statement per table (executemany), in the order the rows depend on each other
        statements = [
            (
                "INSERT INTO items (id, ts, source, text, dup_of, similarity, received) "
                "VALUES (:id, :ts, :src, :text, :dup, :sim, :now)",
                rows,
            ),
            (
                "INSERT INTO item_entities (item_id, entity) VALUES (:i, :e) "
                "ON CONFLICT DO NOTHING",
                ents,
            ),
            ("UPDATE items SET copies = copies + 1 WHERE id = :i", copies),
            # a plain INSERT: scoring an item twice is a bug and fails the batch
            (
                "INSERT INTO scores (item_id, label, polarity, p_neg, p_pos, probs, "
                "run_id, run_version, scored_at) VALUES (:i, :l, :pol, :pn, :pp, "
                ":probs, :rid, :rv, :now)",
                scored,
            ),
        ]
        with self.engine.begin() as c:
            for sql, params in statements:
                if params:
                    c.execute(text(sql), params)
            for r in rejects:
                c.execute(
                    text(
                        "INSERT INTO rejects (source, loc, reason, raw, at) VALUES "
                        "(:s, :l, :r, :raw, :now) ON CONFLICT DO NOTHING"
                    ),
                    {"s": r.source, "l": r.where, "r": r.reason, "raw": r.raw, "now": now},
                )
            if cursor is not None:
                c.execute(
                    text(
                        "INSERT INTO cursors (source, records) VALUES (:s, :n) "
                        "ON CONFLICT (source) DO UPDATE SET records = excluded.records"
                    ),
                    {"s": cursor[0], "n": cursor[1]},
                )
            for k, v in (meta or {}).items():
                c.execute(
                    text(
                        "INSERT INTO meta (key, value) VALUES (:k, :v) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                    ),
                    {"k": k, "v": str(v)},
                )

    def cursor(self, source: str) -> int:
        row = self.one("SELECT records FROM cursors WHERE source = :s", s=source)
        return int(row[0]) if row else 0

    def save_entities(self, table) -> None:
        from sqlalchemy import text

        with self.engine.begin() as c:
            for e in table.by_ticker.values():
                c.execute(
                    text(
                        "INSERT INTO entities (ticker, company, sector) VALUES (:t, :c, :s) "
                        "ON CONFLICT (ticker) DO UPDATE SET company = excluded.company, "
                        "sector = excluded.sector"
                    ),
                    {"t": e.ticker, "c": e.company, "s": e.sector},
                )

    def close_window(self, window_s: int, start: int, alerts: list[dict]) -> list[dict]:
        """Mark a window evaluated and store its alerts, in one transaction; the alerts that
        were new (a window evaluated before keeps its first verdict)."""
        from sqlalchemy import text

        with self.engine.begin() as c:
            res = c.execute(
                text(
                    "INSERT INTO windows (window_s, start) VALUES (:w, :s) ON CONFLICT DO NOTHING"
                ),
                {"w": window_s, "s": start},
            )
            if res.rowcount == 0:
                return []
            for a in alerts:
                c.execute(
                    text(
                        "INSERT INTO alerts (id, entity, direction, window_s, start, severity, "
                        "p_value, created, body) VALUES (:id, :e, :d, :w, :s, :sev, :p, :now, "
                        ":body)"
                    ),
                    {
                        "id": a["id"],
                        "e": a["entity"],
                        "d": a["direction"],
                        "w": window_s,
                        "s": start,
                        "sev": a["severity"],
                        "p": a["p_value"],
                        "now": int(time.time()),
                        "body": json.dumps(a),
                    },
                )
        return alerts

    def windows_done(self, window_s: int) -> set[int]:
        return {r[0] for r in self.all("SELECT start FROM windows WHERE window_s = :w", w=window_s)}

    def mark_delivered(self, alert_id: str) -> None:
        from sqlalchemy import text

        with self.engine.begin() as c:
            c.execute(text("UPDATE alerts SET delivered = 1 WHERE id = :i"), {"i": alert_id})

    def undelivered(self) -> list[dict]:
        rows = self.all("SELECT body FROM alerts WHERE delivered = 0 ORDER BY start, id")
        return [json.loads(r[0]) for r in rows]

    def alerts(self, entity: str | None = None, limit: int = 500) -> list[dict]:
        q = "SELECT body FROM alerts"
        q += " WHERE entity = :e" if entity else ""
        rows = self.all(q + " ORDER BY start DESC, id LIMIT :n", e=entity, n=limit)
        return [json.loads(r[0]) for r in rows]

    def counts(self) -> dict:
        one = lambda q: int(self.one(q)[0] or 0)  # noqa: E731
        return {
            "items": one("SELECT count(*) FROM items"),
            "counted": one("SELECT count(*) FROM items WHERE dup_of IS NULL"),
            "repeats": one("SELECT count(*) FROM items WHERE dup_of IS NOT NULL"),
            "scored": one("SELECT count(*) FROM scores"),
            "rejected": one("SELECT count(*) FROM rejects"),
            "alerts": one("SELECT count(*) FROM alerts"),
        }

    def max_ts(self) -> int | None:
        row = self.one("SELECT max(ts) FROM items")
        return int(row[0]) if row and row[0] is not None else None

    def recent_firsts(self, since: int) -> list:
        """(id, ts, text, entities) of first items since ``since``: the repeat finder's state."""
        rows = self.all(
            "SELECT i.id, i.ts, i.text, e.entity FROM items i LEFT JOIN item_entities e "
            "ON e.item_id = i.id WHERE i.ts >= :s AND i.dup_of IS NULL ORDER BY i.ts, i.id",
            s=since,
        )
        out: dict = {}
        for iid, ts, txt, ent in rows:
            out.setdefault(iid, [iid, int(ts), txt, []])
            if ent is not None:
                out[iid][3].append(ent)
        return list(out.values())
