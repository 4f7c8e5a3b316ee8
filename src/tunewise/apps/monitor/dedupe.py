"""Repeats within a window (retweets, one headline from several sources) counted once.

An item is a repeat of an earlier one about the same entities, seen within ``window``
seconds, when their normalized texts are equal (NFKC, lowercase, one space: the key
``tunewise data dedupe`` uses) or their word 3-shingles have a Jaccard similarity at or
above ``threshold`` (MinHash LSH candidates, verified with the exact Jaccard). A repeat is
stored and linked to the first item (``dup_of``), never scored or counted again.
"""

from __future__ import annotations

import functools
import re
from collections import deque

from tunewise.data.deduplicate import NUM_PERM, jaccard, shingles
from tunewise.data.examples import normalize_text

_RT = re.compile(r"^rt @\w+:?\s*")
_URL = re.compile(r"https?://\S+|…")


def text_key(text: str) -> str:
    """Normalized text without a retweet prefix or links (they differ between copies)."""
    t = normalize_text(text)
    t = _RT.sub("", t)
    return " ".join(_URL.sub(" ", t).split())


class RepeatFinder:
    """The first item of each text seen in the last ``window`` seconds, by entity set."""

    def __init__(self, window: int, threshold: float = 0.8):
        from datasketch import MinHash, MinHashLSH

        self.window, self.threshold = window, threshold
        self.exact: dict[tuple, tuple[str, int]] = {}
        self.sets: dict[str, tuple[set, tuple, int]] = {}
        self.order: deque = deque()
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=(0.1, 0.9))
        # the permutations drawn once (MinHash draws them anew for every object: 8x the cost
        # of hashing a tweet); the same seed, so the same hash values
        proto = MinHash(num_perm=NUM_PERM)
        self._minhash = functools.partial(
            MinHash, num_perm=NUM_PERM, permutations=proto.permutations, scheme=proto.scheme
        )

    def _evict(self, now: int) -> None:
        while self.order and self.order[0][0] < now - self.window:
            ts, iid, key = self.order.popleft()
            if self.exact.get(key, (None,))[0] == iid:
                del self.exact[key]
            if iid in self.sets:
                del self.sets[iid]
                self.lsh.remove(iid)

    def check(self, iid: str, ts: int, text: str, entities: list[str]) -> tuple[str, float] | None:
        """(the first item's id, similarity) when this item repeats one; else remember it."""
        self._evict(ts)
        ents = tuple(sorted(entities))
        norm = text_key(text)
        key = (ents, norm)
        hit = self.exact.get(key)
        if hit is not None and ts - hit[1] <= self.window:
            return hit[0], 1.0
        sh = shingles((norm, None))
        mh = self._minhash()
        mh.update_batch(list(sh))
        if len(sh) > 1:
            best = None
            for other in self.lsh.query(mh):
                osh, oents, ots = self.sets[other]
                if oents != ents or abs(ts - ots) > self.window:
                    continue
                sim = jaccard(sh, osh)
                if sim >= self.threshold and (best is None or sim > best[1]):
                    best = (other, sim)
            if best is not None:
                return best[0], round(best[1], 4)
        self.exact[key] = (iid, ts)
        if iid not in self.sets:
            self.sets[iid] = (sh, ents, ts)
            self.lsh.insert(iid, mh)
        self.order.append((ts, iid, key))
        return None
