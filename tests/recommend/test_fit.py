"""A whole recommend run on the tiny BERT: the run's files, every system on the same users,
warm and cold, predict with explanations, and the CLI's errors."""

from __future__ import annotations

import json

import pytest

from tunewise.cli.main import main
from tunewise.errors import UserError
from tunewise.tasks.recommend.summary import SYSTEMS


def test_the_run_records_split_doctor_metrics_and_index(rec_run):
    run = json.loads((rec_run / "run.json").read_text())
    assert run["status"] == "completed"
    split = json.loads((rec_run / "split.json").read_text())
    assert split["leakage_checks"] == {"cold_items_in_training": 0, "test_items_in_own_training": 0}
    doctor = json.loads((rec_run / "doctor.json").read_text())
    assert doctor["recommend"]["items_without_text"]["ok"]
    assert (rec_run / "model" / "index.faiss").is_file()
    assert not list(rec_run.parent.glob(".rec.prep-*"))  # the staging folder is gone
    assert (rec_run / "model" / "reranker" / "config.json").is_file()  # the run keeps it
    assert "rerank_top: 4" in (rec_run / "config.yaml").read_text()  # a task override


def test_every_system_is_scored_on_the_same_users_warm_and_cold(rec_run):
    rec = json.loads((rec_run / "metrics.json").read_text())["recommend"]
    assert set(rec["systems"]) == {"warm", "cold"}
    for part, rows in rec["systems"].items():
        want = {"text_model", "reranked", "hybrid", "item_knn", "popularity", "untuned", "random"}
        assert want <= set(rows) <= set(SYSTEMS)
        assert len({r["users"] for r in rows.values()}) == 1, part
        for r in rows.values():
            assert 0 <= r["ndcg_at_10"] <= 1 and r["ci"]["ndcg_at_10"][0] <= r["ndcg_at_10"]
    # cold items have no interactions in training: popularity cannot tell them apart
    cold = rec["systems"]["cold"]
    assert cold["popularity"]["coverage_at_10"] <= 1
    assert [v["items"] for v in rec["verdicts"]] == ["warm", "cold"]
    assert "their order there is chance" in rec["verdicts"][1]["message"]
    # the hybrid's weight was chosen on the validation split carved from training
    assert rec["hybrid_validation"]["users"] > 0
    assert rec["hybrid_weight"] == rec["hybrid_validation"]["weight"]


def test_the_report_has_the_recommendation_table(rec_run):
    md = (rec_run / "report.md").read_text()
    assert "Recommendation (warm and cold-start items)" in md and "| cold | popularity |" in md


def test_predictions_explain_each_item_by_a_history_item(rec_run):
    rows = [json.loads(x) for x in (rec_run / "predictions" / "recommend.jsonl").open()]
    users = json.loads((rec_run / "model" / "recommend.json").read_text())["users"]
    ids = json.loads((rec_run / "model" / "recommend.json").read_text())["items"]["ids"]
    for r in rows[:5]:
        liked = {ids[i] for i in users[r["user"]]["train"]}
        assert len(r["top"]) == 10
        assert all(t["because"] in liked for t in r["top"])


def test_predict_excludes_seen_items_and_answers_new_users(rec_run):
    import tunewise

    pred = tunewise.load(rec_run)
    assert pred.task.name == "recommend"
    user = pred.user("3")
    items = pred.recommend(user_id="3", k=8)
    assert len(items) == 8
    index = {iid: i for i, iid in enumerate(pred.task.corpus.ids)}
    assert not {index[x["item_id"]] for x in items} & (set(user["seen"]) | set(user["train"]))
    assert all(x["because"] and x["title"] for x in items)
    new = pred.recommend(history=["good fun 3. Comedy", "lovely great 9. Comedy"], k=5)
    assert len(new) == 5 and {x["because"] for x in new} <= {
        "good fun 3. Comedy",
        "lovely great 9. Comedy",
    }
    with pytest.raises(UserError, match="user 'nobody' is not in this run"):
        pred.recommend(user_id="nobody")


def test_cli_eval_and_predict(rec_run, capsys):
    main(["recommend", "eval", str(rec_run)])
    out = capsys.readouterr().out
    assert "popularity" in out and "cold" in out and "item-kNN" in out
    assert "on warm items" in out and "on cold items" in out
    assert "predict and /v1/recommend rank by the fine-tuned two-tower" in " ".join(out.split())
    main(["recommend", "predict", str(rec_run), "--user", "3", "--k", "10"])
    lines = [x for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert len(lines) == 10 and "because you liked" in lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--item-text", "{title}. {plot}"], "no column 'plot'"),
        (["--user-column", "uid"], "no column 'uid'"),
        (["--holdout", "0"], "--holdout 0"),
        (["--rerank", "--rerank-pairs", "0"], "--rerank-pairs 0"),
    ],
)
def test_cli_user_mistakes_are_one_line_and_exit_2(rec_files, tmp_path, capsys, args, message):
    inter, items = rec_files
    base = ["recommend", "fit", "--interactions", str(inter), "--items", str(items)]
    with pytest.raises(SystemExit) as e:
        main([*base, "--out", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err
    assert e.value.code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_eval_refuses_a_run_that_is_not_a_recommend_run(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["recommend", "eval", str(tmp_path)])
    assert e.value.code == 2 and "not a tunewise run directory" in capsys.readouterr().err


def test_the_reranker_trains_on_at_most_rerank_pairs(rec_files):
    from tunewise.apps.recommend.data import read_data
    from tunewise.apps.recommend.fit import pairs, rerank_rows
    from tunewise.apps.recommend.split import split

    inter, items = rec_files
    bundle = split(read_data(inter, items, min_user_positives=5), holdout=3)
    rows = pairs(bundle, 5, 4)
    full = rerank_rows(bundle, rows)
    assert len(full["train"]) == 2 * len(rows["train"])
    few = rerank_rows(bundle, rows, limit=7)
    assert len(few["train"]) == 14  # each pair: its liked row and one other
    liked = [r for r in few["train"] if r["label"] == "liked"]
    assert len(liked) == 7 and all(
        {"text": r["text"], "passage": r["text_pair"]} in rows["train"] for r in liked
    )

    def dev_liked(d):
        return [r for r in d["dev"] + d["test"] if r["label"] == "liked"]

    assert dev_liked(few) == dev_liked(full)  # the dev pairs are all kept
