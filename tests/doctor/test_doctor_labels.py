"""Label checks: unseen labels, rare classes, imbalance, token tags."""

from tests.doctor.helpers import distinct, ex, run


def _train(counts: dict) -> list:
    return [e for label, n in counts.items() for e in distinct(n, f"{label}x", label)]


def test_unseen_labels_is_an_error():
    train = _train({"a": 20, "b": 20})
    f = run("unseen_labels", {"train": train, "test": distinct(3, "t", "c")})
    assert not f.ok and f.severity == "error"
    assert f.details["test"] == {"unseen_labels": ["c"], "rows": 3}
    assert run("unseen_labels", {"train": train, "test": distinct(3, "t", "b")}).ok


def test_unseen_labels_flattens_multi_label():
    train = [ex("x y z", ["a", "b"])] * 2
    f = run("unseen_labels", {"train": train, "dev": [ex("q r s", ["a", "z"])]})
    assert not f.ok and f.details["dev"]["unseen_labels"] == ["z"]


def test_rare_classes():
    f = run("rare_classes", {"train": _train({"a": 50, "b": 9})})
    assert not f.ok and f.severity == "warning" and f.details["rare_classes"] == {"b": 9}
    assert run("rare_classes", {"train": _train({"a": 50, "b": 10})}).ok


def test_imbalance_by_share_and_ratio():
    f = run("imbalance", {"train": _train({"a": 200, "b": 10})})
    assert not f.ok and f.severity == "warning"
    assert f.details["smallest"]["label"] == "b" and f.details["ratio"] == 20.0
    many = {f"c{i}": 10 for i in range(30)} | {"big": 201}  # shares fine, ratio > 20
    assert not run("imbalance", {"train": _train(many)}).ok
    assert run("imbalance", {"train": _train({"a": 60, "b": 40})}).ok


def test_token_tags_catches_ner_data_fed_as_classification():
    tags = ["O", "B-PER", "I-PER", "O", "B-LOC", "O"]
    rows = [ex(w, t) for w, t in zip(["John", "Smith", "lives", "in", "Paris", "."], tags)]
    f = run("token_tags", {"train": rows * 3})
    assert not f.ok and f.severity == "error"
    assert "B-PER" in f.details["tag_like_labels"]


def test_token_tags_by_label_names_alone_and_negative():
    rows = [ex(f"sentence number {i}", ["B-X", "I-X", "E-X"][i % 3]) for i in range(9)]
    assert not run("token_tags", {"train": rows}).ok
    # one-word texts with ordinary classes, and class names that merely contain a dash
    words = [ex(w, lab) for w, lab in [("apple", "fruit"), ("carrot", "veg"), ("pear", "fruit")]]
    assert run("token_tags", {"train": words}).ok
    assert run("token_tags", {"train": distinct(4, "p", "X-ray") + distinct(4, "q", "CT")}).ok
