"""Which companies an item is about: cashtags ($AAPL), tickers and names from a user table
(``--entities stocks.csv``: ticker, company, sector, aliases), and the item's own column.

Bare tickers are matched only when the table lists them and only as whole upper-case words
(``AAPL`` yes, ``it`` never for IT); names and aliases match as whole words, any case.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.errors import UserError, where

CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{0,5}(?:[.-][A-Za-z]{1,2})?)\b")
_SUFFIXES = re.compile(
    r"[,.]?\s+(inc|corp|corporation|co|company|plc|ltd|limited|group|holdings|sa|ag|nv)\.?$",
    re.I,
)


@dataclass
class Entity:
    ticker: str
    company: str = ""
    sector: str = ""
    aliases: list[str] = field(default_factory=list)


class EntityTable:
    """Tickers with their company, sector and aliases; finds them in texts."""

    def __init__(self, entities: list[Entity] | None = None):
        self.by_ticker = {e.ticker: e for e in entities or []}
        names: dict[str, str] = {}
        for e in self.by_ticker.values():
            for n in [e.company, _SUFFIXES.sub("", e.company), *e.aliases]:
                n = n.strip()
                if len(n) >= 3:
                    names[n.lower()] = e.ticker
        self._names = names
        self._name_re = (
            re.compile(
                r"(?<!\w)("
                + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
                + r")(?!\w)",
                re.I,
            )
            if names
            else None
        )
        self._ticker_re = (
            re.compile(
                r"(?<![\w$])("
                + "|".join(re.escape(t) for t in sorted(self.by_ticker, key=len, reverse=True))
                + r")(?![\w])"
            )
            if self.by_ticker
            else None
        )

    def sector(self, ticker: str) -> str:
        e = self.by_ticker.get(ticker)
        return e.sector if e and e.sector else ""

    def find(self, text: str, given: list[str] | None = None) -> list[str]:
        """Entities of one text, in first-seen order, with the item's own ones first."""
        out = dict.fromkeys(given or [])
        for m in CASHTAG.finditer(text):
            out[m.group(1).upper()] = None
        if self._ticker_re is not None:
            for m in self._ticker_re.finditer(text):
                out[m.group(1)] = None
        if self._name_re is not None:
            for m in self._name_re.finditer(text):
                out[self._names[m.group(1).lower()]] = None
        return list(out)


def read_table(path: Path) -> EntityTable:
    """``ticker, company, sector, aliases`` (aliases separated by ``;`` or ``|``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--entities {path}: no such file")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        cols = [c.strip().lower() for c in reader.fieldnames or []]
        if "ticker" not in cols:
            raise UserError(
                f"--entities {path}: needs a 'ticker' column (and optionally company, sector, "
                f"aliases); it has {', '.join(cols) or 'no header'}"
            )
        out = []
        for i, row in enumerate(reader, 2):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            t = row.get("ticker", "").upper()
            if not t:
                raise UserError(f"--entities {where(path, i, 'ticker')}: empty ticker")
            aliases = [a.strip() for a in re.split(r"[;|]", row.get("aliases", "")) if a.strip()]
            out.append(Entity(t, row.get("company", ""), row.get("sector", ""), aliases))
    return EntityTable(out)
