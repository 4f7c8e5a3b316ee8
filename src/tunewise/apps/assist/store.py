"""Every conversation and turn, with its decision and scores, in SQLite (a path: the default)
or PostgreSQL (a ``postgresql://`` URL), through SQLAlchemy. Messages and replies are masked
(``mask.mask``) before they reach the database; session state lives here, so a handed-off
session stays handed off across restarts and workers."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa

from tunewise.apps.assist.engine import Session
from tunewise.apps.assist.mask import mask
from tunewise.errors import UserError

DB_FILE = "conversations.db"

META = sa.MetaData()
CONVERSATIONS = sa.Table(
    "assist_conversations",
    META,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("turns", sa.Integer, nullable=False, default=0),
    sa.Column("last_intent", sa.String(200)),
    sa.Column("handed_off", sa.Boolean, nullable=False, default=False),
    sa.Column("handoff_reason", sa.Text),
)
TURNS = sa.Table(
    "assist_turns",
    META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(200), sa.ForeignKey(CONVERSATIONS.c.id), index=True),
    sa.Column("turn", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("intent", sa.String(200)),
    sa.Column("confidence", sa.Float),
    sa.Column("abstained", sa.Boolean),
    sa.Column("oos_score", sa.Float),
    sa.Column("faq_id", sa.String(200)),
    sa.Column("faq_score", sa.Float),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("reply", sa.Text),
    sa.Column("handoff", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("generated", sa.Boolean),
    sa.Column("latency_ms", sa.Float),
)


def db_url(db: str | Path) -> str:
    """A SQLAlchemy URL for ``--db``: a file path (SQLite), ``sqlite:///...`` or
    ``postgresql://...`` (driven by psycopg 3)."""
    s = str(db)
    if s.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + s.split("://", 1)[1]
    if "://" in s:
        return s
    return f"sqlite:///{Path(s).expanduser().resolve()}"


class Store:
    """Conversations and turns in one database (tables created when missing)."""

    def __init__(self, db: str | Path):
        url = db_url(db)
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True)
            if url.startswith("sqlite:///"):
                Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            META.create_all(self.engine)
        except sa.exc.ArgumentError as e:
            raise UserError(f"--db {db}: not a database path or URL ({e})") from None
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
            why = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            raise UserError(
                f"--db {_hide_password(str(db))}: cannot open the database ({why})"
            ) from None
        except ModuleNotFoundError as e:
            raise UserError(f"--db {db}: the driver {e.name!r} is not installed") from None

    def session(self, session_id: str) -> Session:
        with self.engine.connect() as c:
            row = c.execute(
                sa.select(CONVERSATIONS).where(CONVERSATIONS.c.id == session_id)
            ).first()
        if row is None:
            return Session(session_id)
        return Session(row.id, row.turns, row.last_intent, bool(row.handed_off), row.handoff_reason)

    def log_turn(self, session: Session, message: str, out: dict) -> None:
        """Store the turn ``out`` (the response) and the session's new state, masked."""
        now = time.time()
        faq = out.get("faq") or {}
        state = {
            "updated": now,
            "turns": session.turns,
            "last_intent": session.last_intent,
            "handed_off": session.handed_off,
            "handoff_reason": mask(session.handoff_reason),
        }
        with self.engine.begin() as c:
            done = c.execute(
                CONVERSATIONS.update().where(CONVERSATIONS.c.id == session.id).values(**state)
            )
            if done.rowcount == 0:
                c.execute(CONVERSATIONS.insert().values(id=session.id, started=now, **state))
            c.execute(
                TURNS.insert().values(
                    conversation_id=session.id,
                    turn=out["turn"],
                    at=now,
                    message=mask(message),
                    intent=out.get("intent"),
                    confidence=out.get("confidence"),
                    abstained=out.get("intent_abstained"),
                    oos_score=out.get("oos_score"),
                    faq_id=faq.get("id"),
                    faq_score=faq.get("score"),
                    decision=out["decision"],
                    reply=mask(out.get("reply")),
                    handoff=bool(out["handoff"]),
                    reason=mask(out.get("reason")),
                    generated=bool(out.get("generated")),
                    latency_ms=out.get("latency_ms"),
                )
            )

    def release(self, session_id: str) -> bool:
        """Give a handed-off session back to the assistant (an operator has dealt with it);
        False when there is no such session."""
        with self.engine.begin() as c:
            done = c.execute(
                CONVERSATIONS.update()
                .where(CONVERSATIONS.c.id == session_id)
                .values(handed_off=False, handoff_reason=None, updated=time.time())
            )
        return done.rowcount > 0

    def conversations(self, handed_off: bool | None = None, limit: int = 200) -> list[dict]:
        """Conversations, latest first, each with its turns in order."""
        q = sa.select(CONVERSATIONS).order_by(CONVERSATIONS.c.updated.desc()).limit(limit)
        if handed_off is not None:
            q = q.where(CONVERSATIONS.c.handed_off == handed_off)
        with self.engine.connect() as c:
            convs = [dict(r._mapping) for r in c.execute(q)]
            ids = [x["id"] for x in convs]
            turns: dict[str, list] = {i: [] for i in ids}
            if ids:
                rows = c.execute(
                    sa.select(TURNS)
                    .where(TURNS.c.conversation_id.in_(ids))
                    .order_by(TURNS.c.conversation_id, TURNS.c.turn)
                )
                for r in rows:
                    turns[r.conversation_id].append(dict(r._mapping))
        for x in convs:
            x["turns"] = turns[x["id"]]
        return convs

    def turns(self) -> list[dict]:
        """Every logged turn, oldest first, with whether its conversation was handed off."""
        q = (
            sa.select(TURNS, CONVERSATIONS.c.handed_off.label("conversation_handed_off"))
            .join(CONVERSATIONS, TURNS.c.conversation_id == CONVERSATIONS.c.id)
            .order_by(TURNS.c.at, TURNS.c.id)
        )
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(q)]

    def close(self) -> None:
        self.engine.dispose()


def _hide_password(url: str) -> str:
    from tunewise.redact import redact_text

    return redact_text(url)
