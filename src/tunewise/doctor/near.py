"""Near-duplicates between splits with MinHash and LSH (datasketch)."""

from __future__ import annotations

# the shingles are the ones `tunewise data dedupe` drops near-duplicates by
from tunewise.data.deduplicate import NUM_PERM, SHINGLE, jaccard, shingles  # noqa: F401
from tunewise.doctor.registry import Context, Splits, check
from tunewise.doctor.text import first, groups, pairs, present, show


@check("near_duplicates", "warning")
def near_duplicates(splits: Splits, ctx: Context):
    """Texts in two splits that are almost the same (Jaccard of word 3-shingles)."""
    from datasketch import MinHash, MinHashLSH

    threshold = ctx.near_duplicate_threshold
    if not pairs(splits):
        return ctx.result(True, "one split only: nothing to compare", "", {"pairs": {}})
    names = present(splits)
    sets: dict = {}
    for name in names:
        for key in groups(splits, name, ctx):
            if key not in sets:
                sets[key] = shingles(key)
    keys = list(sets)
    hashes = MinHash.bulk([sets[k] for k in keys], num_perm=NUM_PERM)
    index = {k: i for i, k in enumerate(keys)}
    # recall over precision: every candidate is verified with the exact Jaccard below
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=(0.1, 0.9))
    for i, h in enumerate(hashes):
        lsh.insert(i, h)
    details: dict = {"threshold": threshold, "num_perm": NUM_PERM, "pairs": {}}
    parts = []
    for a, b in pairs(splits):
        ga, gb = groups(splits, a, ctx), groups(splits, b, ctx)
        found = []
        for kb in gb:
            for j in lsh.query(hashes[index[kb]]):
                ka = keys[j]
                # exact duplicates (equal normalized text) are cross_split_overlap's
                if ka == kb or ka not in ga:
                    continue
                sim = jaccard(sets[ka], sets[kb])  # exact, so LSH false positives drop out
                if sim >= threshold:
                    found.append((kb, ka, sim))
        texts_b = len({kb for kb, _, _ in found})
        details["pairs"][f"{a}-{b}"] = {
            "near_duplicate_pairs": len(found),
            f"near_duplicate_texts_of_{b}": texts_b,
            "examples": [
                {a: show(ga[ka][0]), b: show(gb[kb][0]), "jaccard": round(sim, 3)}
                for kb, ka, sim in first(sorted(found, key=lambda t: -t[2]))
            ],
        }
        if found:
            parts.append(f"{a}-{b}: {texts_b} {b} texts")
    if not parts:
        return ctx.result(True, "no near-duplicates between splits", "", details)
    return ctx.result(
        False,
        "near-duplicates between splits: " + ", ".join(parts),
        "; ".join(parts) + f" have a near-copy (Jaccard >= {threshold}) in the other split; "
        "they inflate dev/test scores like exact copies do.",
        details,
    )
