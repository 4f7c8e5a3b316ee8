"""[pretrain] benchmarks: domain-adaptive MLM (DAPT) of minilm on financial text, a Chinese
encoder pretrained from scratch, and pretraining throughput against a Hugging Face
``run_mlm``-style Trainer on the same model and data.

Parts (``--part``, repeatable; all by default):

- ``dapt``: minilm continues masked-LM pretraining on the texts of
  ``twitter_financial_news_sentiment`` train (labels dropped) plus ``stocknet_stream`` tweets,
  deduplicated against the labeled test set (``sent_valid.csv``); then minilm and the DAPT model
  are fine-tuned on ``sent_train.csv`` with the same seeds and scored on ``sent_valid.csv``;
  each seed's pair goes through ``tunewise compare``'s paired bootstrap + McNemar, and the
  seeds' predictions are pooled (paired by seed and row) for one more paired bootstrap.
- ``zh``: a BERT-style encoder of ``--size`` is built from scratch (WordPiece tokenizer trained
  on the text, Chinese by character) and pretrained on THUCNews titles, ``zh_cs_qmatch``
  questions (train split), ``resume_ner`` train sentences and FewCLUE EPRSTMT/TNEWS train+dev
  sentences (every test text deduplicated out); then it and minilm are fine-tuned on
  ``fewclue/eprstmt``, ``fewclue/tnews`` and ``resume_ner``; TF-IDF character 1-3-grams with
  logistic regression is the baseline on the two classification tasks (95% bootstrap
  intervals on every score).
- ``speed``: the same MLM pretraining (minilm with a head tied to its embeddings, 15% masking,
  batch, max length, steps) by ``tunewise pretrain`` and by ``transformers.Trainer`` with
  ``DataCollatorForLanguageModeling`` on line-by-line tokenized text, as ``run_mlm.py
  --line_by_line`` does; real (non-padding) tokens per second of training time.

Writes ``--out`` (JSON) and prints the Markdown tables for benchmarks/RESULTS.md.

    python benchmarks/bench_pretrain.py --part speed --speed-steps 30
    python benchmarks/bench_pretrain.py            # everything, full sizes (hours on 2 cores)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("SHARED_DATASETS", "../shared/datasets"))
ZH_TASKS = ("eprstmt", "tnews", "resume_ner")
DAPT_FT_LR = 1e-4  # minilm's packaged default, set on both sides of the DAPT comparison


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", action="append", choices=["dapt", "zh", "speed"])
    p.add_argument("--seeds", default="42,43,44")
    p.add_argument("--out", default="benchmarks/out/pretrain.json")
    p.add_argument("--work", default=None, help="Folder for the runs [a temporary one]")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64)
    # dapt
    p.add_argument("--dapt-docs", type=int, default=20000, help="Pretraining documents at most")
    p.add_argument("--dapt-steps", type=int, default=600)
    p.add_argument(
        "--ft-rows", type=int, default=0, help="Fine-tuning rows, a seeded sample (0: all 9,543)"
    )
    p.add_argument(
        "--test-rows", type=int, default=0, help="Test rows, a seeded sample (0: all 2,388)"
    )
    p.add_argument("--ft-epochs", type=float, default=2)
    # zh
    p.add_argument("--size", default="mini")
    p.add_argument("--zh-steps", type=int, default=3000)
    p.add_argument("--zh-epochs", type=float, default=10, help="Fine-tuning epochs (few-shot)")
    p.add_argument("--ner-rows", type=int, default=0, help="resume_ner train sentences (0: all)")
    p.add_argument(
        "--zh-minilm", default=",".join(ZH_TASKS), help="Tasks minilm is fine-tuned on too"
    )
    p.add_argument("--partial", default=None, help="zh: write the results after each task here")
    p.add_argument("--zh-tasks", default=",".join(ZH_TASKS))
    p.add_argument("--reuse", action="store_true", help="zh, dapt: reuse --work's finished runs")
    p.add_argument("--zh-dev-share", type=float, default=0.1, help="Held-out share of the text")
    # speed
    p.add_argument("--speed-steps", type=int, default=40)
    p.add_argument(
        "--speed-fp32", action="store_true", help="speed: also tunewise with bf16 off, last"
    )
    p.add_argument("--threads", type=int, default=None)
    return p.parse_args(argv)


def _write_lines(path: Path, lines) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            line = " ".join(line.split())
            if line:
                f.write(line + "\n")
                n += 1
    return n


def _csv_rows(path: Path):
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


# -- data -----------------------------------------------------------------------------------
def financial_corpus(args, work: Path) -> dict:
    """Unlabeled financial text (train headlines + stocknet tweets) and the labeled splits."""
    src = SHARED / "twitter_financial_news_sentiment"
    train = list(_csv_rows(src / "sent_train.csv"))
    test = list(_csv_rows(src / "sent_valid.csv"))
    texts = [r["text"] for r in train]
    seen = set(texts)
    with gzip.open(SHARED / "stocknet_stream" / "tweets.csv.gz", "rt", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            t = r["text"]
            if t.startswith("RT ") or t in seen:
                continue
            seen.add(t)
            texts.append(t)
            if len(texts) >= args.dapt_docs:
                break
    n = _write_lines(work / "fin.txt", texts[: args.dapt_docs])
    # the files are sorted in blocks of one label: a reduced size is a seeded sample, not a head
    ft = random.Random(0).sample(train, args.ft_rows) if args.ft_rows else train
    te = random.Random(1).sample(test, args.test_rows) if args.test_rows else test
    for name, rows in (("train", ft), ("test", te)):
        with open(work / f"fin_{name}.jsonl", "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps({"text": r["text"], "label": r["label"]}) + "\n")
    return {
        "text": work / "fin.txt",
        "documents": n,
        "train": work / "fin_train.jsonl",
        "test": work / "fin_test.jsonl",
        "train_rows": len(ft),
        "test_rows": len(te),
    }


def _fewclue(task: str, split: str) -> list[dict]:
    rows = []
    with open(SHARED / "fewclue" / task / f"{split}.json", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rows.append({"text": r["sentence"], "label": str(r.get("label_desc", r["label"]))})
    return rows


def chinese_corpus(args, work: Path) -> dict:
    """The Chinese pretraining text (examples/pretrain/zh_corpus.py: no test text) and the three
    tasks' files."""
    import importlib.util

    recipe = Path(__file__).resolve().parents[1] / "examples" / "pretrain" / "zh_corpus.py"
    spec = importlib.util.spec_from_file_location("zh_corpus", recipe)
    zh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zh)
    built = zh.build(SHARED, work / "zh")
    files: dict = {}
    for task in ("eprstmt", "tnews"):
        files[task] = {}
        for split, name in (
            ("train", "train_few_all"),
            ("dev", "dev_few_all"),
            ("test", "test_public"),
        ):
            p = work / f"{task}_{split}.jsonl"
            with open(p, "w", encoding="utf-8") as f:
                for r in _fewclue(task, name):
                    f.write(json.dumps(r, ensure_ascii=False) + "\n")
            files[task][split] = p
    ner = SHARED / "resume_ner"
    ner_train = ner / "train.char.bmes"
    if args.ner_rows:
        ner_train = work / "resume_train.bmes"
        blocks = open(ner / "train.char.bmes", encoding="utf-8").read().strip().split("\n\n")
        ner_train.write_text("\n\n".join(blocks[: args.ner_rows]) + "\n", encoding="utf-8")
    files["resume_ner"] = {
        "train": ner_train,
        "dev": ner / "dev.char.bmes",
        "test": ner / "test.char.bmes",
    }
    return {
        "text": built["text"],
        "documents": built["documents"],
        "files": files,
        "dedup_against": [str(t) for t in built["tests"]],
    }


# -- runs -----------------------------------------------------------------------------------
def _echo(tag: str):
    return lambda line: print(f"  [{tag}] {line}", flush=True)


def pretrain(cfg: dict, scratch=None, tag="pretrain"):
    from tunewise.config import Config
    from tunewise.run.pretrain import pretrain as run_pretrain

    return run_pretrain(
        Config.model_validate(cfg), scratch=scratch, overwrite=True, echo=_echo(tag)
    )


def finetune(model: str, splits: dict, out: Path, seed: int, args, task="classification", **kw):
    import tunewise

    cfg = {
        "task": {"type": task},
        "model": {"name": model, "max_length": args.max_length},
        "data": {k: str(v) for k, v in splits.items()},
        "train": {
            "epochs": kw.get("epochs", args.ft_epochs),
            "batch_size": args.batch_size,
            "seed": seed,
            "checkpoint_every": None,
            **({"threads": args.threads} if args.threads else {}),
        },
        "out": str(out),
    }
    if "lr" in kw:
        cfg["train"]["lr"] = kw["lr"]
    if "allow" in kw:
        cfg["doctor"] = {"allow": kw["allow"]}
    return tunewise.train(cfg, overwrite=True, echo=_echo(out.name))


def _score(result, task: str) -> dict:
    """The test score with its 95% bootstrap interval: entity micro-F1 (tokens) or accuracy."""
    t = result.metrics["test"]
    key = "micro_f1" if task == "tokens" else "accuracy"
    return {"metric": key, "value": t[key], "ci": t.get("ci", {}).get(key)}


def part_dapt(args, work: Path) -> dict:
    from tunewise.evaluation.stats import _read_predictions, compare_runs, mcnemar, paired_bootstrap

    data = financial_corpus(args, work)
    t0 = time.perf_counter()
    done = work / "dapt" / "metrics.json"
    if args.reuse and done.is_file():  # a finished DAPT run of an earlier call
        r = argparse.Namespace(metrics=json.loads(done.read_text()))
    else:
        r = _dapt(args, work, data)
    out = {
        "corpus": {k: v for k, v in data.items() if isinstance(v, int)},
        "steps": args.dapt_steps,
        "perplexity": r.metrics["perplexity"],
        "pretrain_seconds": round(time.perf_counter() - t0, 1),
        "ft_lr": DAPT_FT_LR,
        "seeds": [],
    }
    splits = {"train": data["train"], "test": data["test"]}
    gold, pa, pb = [], [], []
    for seed in [int(s) for s in args.seeds.split(",")]:
        # the same lr on both sides: minilm's packaged default (a local directory, as the DAPT
        # model is, would otherwise get the generic 5e-5)
        base = _finetune_or_reuse("minilm", splits, work / f"fin-base-{seed}", seed, args)
        dapt = _finetune_or_reuse(
            str(work / "dapt" / "model"), splits, work / f"fin-dapt-{seed}", seed, args
        )
        cmp = compare_runs(base.path, dapt.path)
        out["seeds"].append(
            {
                "seed": seed,
                "base": _score(base, "classification"),
                "dapt": _score(dapt, "classification"),
                "delta_accuracy": cmp["accuracy"]["delta"],
                "ci": cmp["accuracy"]["ci"],
                "p_bootstrap": cmp["accuracy"]["p_value"],
                "p_mcnemar": cmp["mcnemar"]["p_value"],
                "verdict": cmp["verdict"],
            }
        )
        ra, rb = _read_predictions(Path(base.path)), _read_predictions(Path(dapt.path))
        gold += [x["gold"] for x in ra]
        pa += [x["pred"] for x in ra]
        pb += [x["pred"] for x in rb]
    out["pooled"] = {
        "accuracy": paired_bootstrap(np.array(gold), np.array(pa), np.array(pb), "accuracy"),
        "macro_f1": paired_bootstrap(np.array(gold), np.array(pa), np.array(pb), "macro_f1"),
        "mcnemar": mcnemar(np.array(gold), np.array(pa), np.array(pb)),
    }
    return out


def _dapt(args, work: Path, data: dict):
    """minilm's masked-LM pretraining on the financial text (test texts dropped)."""
    return pretrain(
        {
            "task": {"type": "pretrain", "options": {"dedup_against": [str(data["test"])]}},
            "model": {"name": "minilm", "max_length": args.max_length},
            "data": {"train": str(data["text"])},
            "train": {
                "max_steps": args.dapt_steps,
                "batch_size": args.batch_size,
                "checkpoint_every": None,
                **({"threads": args.threads} if args.threads else {}),
            },
            "out": str(work / "dapt"),
        },
        tag="dapt",
    )


def _finetune_or_reuse(model: str, splits: dict, run: Path, seed: int, args):
    """A fine-tune at DAPT_FT_LR, or (--reuse) the finished run already in ``run``."""
    if args.reuse and (run / "metrics.json").is_file():
        return argparse.Namespace(path=run, metrics=json.loads((run / "metrics.json").read_text()))
    return finetune(model, splits, run, seed, args, lr=DAPT_FT_LR)


def tfidf_char(files: dict) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from tunewise.evaluation.stats import bootstrap_ci

    def load(p):
        rows = [json.loads(line) for line in open(p, encoding="utf-8")]
        return [r["text"] for r in rows], [r["label"] for r in rows]

    (xt, yt), (xd, yd), (xs, ys) = (load(files[s]) for s in ("train", "dev", "test"))
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    a, d, s = vec.fit_transform(xt), vec.transform(xd), vec.transform(xs)
    best = max(
        (LogisticRegression(C=c, max_iter=2000).fit(a, yt) for c in (0.3, 1, 3, 10, 30)),
        key=lambda m: (m.predict(d) == np.array(yd)).mean(),
    )
    y = np.array(ys)
    pred = best.predict(s)
    labels = sorted(set(ys) | set(pred))
    ids = {lab: i for i, lab in enumerate(labels)}
    yi, pi = np.array([ids[v] for v in y]), np.array([ids[v] for v in pred])
    return {
        "metric": "accuracy",
        "value": float((yi == pi).mean()),
        "ci": list(bootstrap_ci(yi, pi, "accuracy")),
        "C": best.C,
    }


def part_zh(args, work: Path) -> dict:
    from tunewise.run.pretrain import Scratch

    data = chinese_corpus(args, work)
    t0 = time.perf_counter()
    done = work / "zh-enc" / "metrics.json"
    if args.reuse and done.is_file():  # a finished pretraining run of an earlier call
        perplexity = json.loads(done.read_text())["perplexity"]
    else:
        r = pretrain(
            {
                "task": {"type": "pretrain", "options": {"dedup_against": data["dedup_against"]}},
                "model": {"max_length": args.max_length},
                "data": {"train": str(data["text"]), "split": {"dev": args.zh_dev_share}},
                "train": {
                    "max_steps": args.zh_steps,
                    "batch_size": args.batch_size,
                    "checkpoint_every": None,
                    **({"threads": args.threads} if args.threads else {}),
                },
                "out": str(work / "zh-enc"),
            },
            scratch=Scratch(args.size, 8000, "train"),
            tag="zh",
        )
        perplexity = r.metrics["perplexity"]
    from transformers import AutoModel

    model_dir = work / "zh-enc" / "model"
    params = sum(p.numel() for p in AutoModel.from_pretrained(model_dir).parameters())
    out = {
        "corpus_documents": data["documents"],
        "size": args.size,
        "parameters": params,
        "steps": args.zh_steps,
        "perplexity": perplexity,
        "pretrain_seconds": round(time.perf_counter() - t0, 1),
        "tasks": {},
    }
    seed = int(args.seeds.split(",")[0])
    for task in args.zh_tasks.split(","):
        files = data["files"][task]
        kind = "tokens" if task == "resume_ner" else "classification"
        epochs = 3 if kind == "tokens" else args.zh_epochs
        row = {}
        models = [("zh_scratch", str(model_dir), {"lr": 5e-4})]
        if task in args.zh_minilm.split(","):  # its vocabulary lacks Chinese: the doctor says so
            models.append(("minilm", "minilm", {"allow": ["unknown_tokens"]}))
        for name, model, kw in models:
            run = work / f"{task}-{name}"
            if args.reuse and (run / "metrics.json").is_file():
                res = argparse.Namespace(metrics=json.loads((run / "metrics.json").read_text()))
            else:
                res = finetune(model, files, run, seed, args, task=kind, epochs=epochs, **kw)
            row[name] = _score(res, kind)
        if kind == "classification":
            row["tfidf_char_1_3"] = tfidf_char(files)
        out["tasks"][task] = row
        if args.partial:
            Path(args.partial).write_text(json.dumps(out, indent=2, default=str))
    return out


def part_speed(args, work: Path) -> dict:
    import torch
    from transformers import (
        AutoTokenizer,
        BertForMaskedLM,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from tunewise.models.registry import resolve_model

    data = financial_corpus(args, work)
    steps, bs = args.speed_steps, args.batch_size

    def tunewise_run(bf16, name: str) -> dict:
        r = pretrain(
            {
                "task": {"type": "pretrain"},
                "model": {"name": "minilm", "max_length": args.max_length},
                "data": {"train": str(data["text"])},
                "train": {
                    "max_steps": steps,
                    "batch_size": bs,
                    "checkpoint_every": None,
                    "bf16": bf16,
                    **({"threads": args.threads} if args.threads else {}),
                },
                "out": str(work / name),
            },
            tag=name,
        )
        t = r.metrics["training"]
        keys = ("real_tokens_per_s", "examples_per_s", "train_seconds", "bf16")
        return {k: t.get(k) for k in keys}

    tw = tunewise_run("auto", "speed-tw")

    path = resolve_model("minilm").path
    tok = AutoTokenizer.from_pretrained(path)
    lines = [line.strip() for line in open(data["text"], encoding="utf-8") if line.strip()]
    enc = tok(lines, truncation=True, max_length=args.max_length, return_special_tokens_mask=True)
    rows = [{k: enc[k][i] for k in enc} for i in range(len(lines))]
    set_seed(42)
    model = BertForMaskedLM.from_pretrained(path)  # a fresh head, decoder tied to embeddings

    class Counting:
        def __init__(self, inner):
            self.inner, self.real = inner, 0

        def __call__(self, feats):
            b = self.inner(feats)
            self.real += int(b["attention_mask"].sum())
            return b

    coll = Counting(DataCollatorForLanguageModeling(tok, mlm_probability=0.15))
    targs = TrainingArguments(
        output_dir=str(work / "speed-trainer"),
        per_device_train_batch_size=bs,
        max_steps=steps,
        learning_rate=1e-4,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        logging_steps=10,
    )
    trainer = Trainer(model=model, args=targs, train_dataset=rows, data_collator=coll)
    t0 = time.perf_counter()
    trainer.train()
    sec = time.perf_counter() - t0
    hf = {"real_tokens_per_s": round(coll.real / sec, 1), "train_seconds": round(sec, 1)}
    extra = {}
    if args.speed_fp32:  # the bf16 lever: tunewise again with bf16 off, after the Trainer
        fp = tunewise_run(False, "speed-tw-fp32")
        extra = {
            "tunewise_fp32": fp,
            "speedup_fp32": round(fp["real_tokens_per_s"] / hf["real_tokens_per_s"], 2),
        }
    return extra | {
        "steps": steps,
        "batch_size": bs,
        "max_length": args.max_length,
        "tunewise": tw,
        "trainer_run_mlm": hf,
        "speedup": round(tw["real_tokens_per_s"] / hf["real_tokens_per_s"], 2),
        "torch_threads": torch.get_num_threads(),
    }


def machine() -> dict:
    flags = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                flags = line
                break
    except OSError:
        pass
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "avx512_bf16": "avx512_bf16" in flags,
        "load_average": os.getloadavg(),
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    parts = args.part or ["speed", "dapt", "zh"]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-pretrain-"))
    work.mkdir(parents=True, exist_ok=True)
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.is_file() else {}
    result["machine"] = machine()
    result["args"] = vars(args)
    for part in parts:
        t0 = time.perf_counter()
        result[part] = {"part": part} | {"dapt": part_dapt, "zh": part_zh, "speed": part_speed}[
            part
        ](args, work)
        result[part]["wall_seconds"] = round(time.perf_counter() - t0, 1)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps(result[part], indent=2, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
