"""`tunewise tune`: trials on dev only (pruned when trailing), every trial in the registry,
the best config saved, test evaluated once at the end."""

import json

import pytest
import yaml

from tests.conftest import make_rows, tiny_config, write_jsonl
from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.registry import Registry
from tunewise.tuning import parse_space


def test_parse_space():
    ps = parse_space("lr=1e-5..1e-4:log,epochs=2..4,batch_size=16|32,train.warmup_ratio=0..0.2")
    by = {p.key: p for p in ps}
    assert by["train.lr"].log and not by["train.lr"].integer and by["train.lr"].low == 1e-5
    assert by["train.epochs"].integer and (by["train.epochs"].low, by["train.epochs"].high) == (
        2,
        4,
    )
    assert by["train.batch_size"].choices == [16, 32]
    assert by["train.warmup_ratio"].high == 0.2 and not by["train.warmup_ratio"].integer
    for bad in ("lr=1e-4..1e-5", "lr=0..1:log", "lr", "lr=fast", "nope=1..2"):
        with pytest.raises(UserError):
            parse_space(bad)


def test_tune_end_to_end(tiny_model_dir, tmp_path, capsys):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    data = {
        s: write_jsonl(tmp_path / f"{s}.jsonl", make_rows(n, i))
        for i, (s, n) in enumerate((("train", 160), ("dev", 40), ("test", 40)))
    }
    cfg = tiny_config(tiny_model_dir, data, tmp_path / "unused", epochs=8)
    cfg.pop("out")
    cfg["doctor"] = {"enabled": False}
    cfg["tune"] = {"space": {"train.lr": "1e-7..5e-3:log"}, "trials": 3}
    (tmp_path / "rt.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "study"
    out.mkdir()
    # fix the first trials: two that learn, then one that cannot and must be pruned on dev
    study = optuna.create_study(
        study_name="study",
        storage=JournalStorage(JournalFileBackend(str(out / "optuna.jsonl"))),
        direction="maximize",
    )
    for lr in (3e-3, 2e-3, 1e-7):
        study.enqueue_trial({"train.lr": lr})
    main(["tune", "--config", str(tmp_path / "rt.yaml"), "--out", str(out)])
    printed = capsys.readouterr().out
    summary = json.loads((out / "tune.json").read_text())
    assert summary["trials"] == {"complete": 2, "pruned": 1, "fail": 0}
    assert summary["best"]["params"]["train.lr"] in (3e-3, 2e-3)
    assert "best config:" in printed and "test accuracy" in printed
    # trials never saw the test split; the final run is the only one that did
    for t in ("trial-000", "trial-001"):
        m = json.loads((out / t / "metrics.json").read_text())
        assert "test" not in m and "dev" in m
        assert not (out / t / "predictions" / "test.jsonl").exists()
    final = json.loads((out / "final" / "metrics.json").read_text())
    assert final["test"]["n"] == 40
    # the final run retrains the best config: same dev result as the trial that chose it
    assert final["dev"]["accuracy"] == pytest.approx(summary["best"]["value"])
    best_cfg = yaml.safe_load((out / "best_config.yaml").read_text())
    assert best_cfg["train"]["lr"] == summary["best"]["params"]["train.lr"]
    rows = [r for r in Registry().runs() if r["study"] == "study" and str(out) in r["path"]]
    assert sorted((r["name"], r["status"]) for r in rows) == [
        ("final", "completed"),
        ("trial-000", "completed"),
        ("trial-001", "completed"),
        ("trial-002", "pruned"),
    ]
