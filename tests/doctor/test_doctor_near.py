"""Near-duplicates between splits (MinHash LSH over word 3-shingles)."""

from tests.doctor.helpers import distinct, ex, run

LONG = " ".join(f"w{i}" for i in range(40))


def test_near_duplicates_found_across_splits():
    train = distinct(30) + [ex(LONG)]
    test = distinct(10, "test") + [ex(LONG.replace("w39", "changed"))]
    f = run("near_duplicates", {"train": train, "test": test})
    assert not f.ok and f.severity == "warning"
    pair = f.details["pairs"]["train-test"]
    assert pair["near_duplicate_pairs"] == 1 and pair["near_duplicate_texts_of_test"] == 1
    assert pair["examples"][0]["jaccard"] >= 0.9


def test_near_duplicates_excludes_exact_copies_and_respects_threshold():
    train = distinct(30) + [ex(LONG), ex("a b c d e f g h i j")]
    test = [ex(LONG), ex("a b c d e f g h i x")]  # exact copy; and Jaccard 7/9
    f = run("near_duplicates", {"train": train, "test": test})
    assert f.ok
    low = run("near_duplicates", {"train": train, "test": test}, near_duplicate_threshold=0.7)
    assert not low.ok
    assert low.details["pairs"]["train-test"]["near_duplicate_pairs"] == 1
