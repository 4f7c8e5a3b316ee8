"""Spine benchmark: tunewise vs Hugging Face Trainer on SST-2 sentences with all-MiniLM-L6-v2.

Same model, data, epochs, batch size 32, lr 5e-5, max_length 128, warmup 10%, weight decay
0.01, clipping 1.0, dynamic padding. Examples/s count training time only (no evaluation, model
loading or tokenization). Also: a pad-to-512 tutorial loop (speed only) and TF-IDF + logistic
regression (accuracy floor). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

# tunewise variants: the defaults, and each lever that changes the numbers turned on or off
# against them (its accuracy cost over the same seeds)
TW_SETTINGS = {
    "tunewise": {},
    "tunewise_frozen_emb": {"freeze_embeddings": True},
    "tunewise_budget": {"token_budget": 1024},
    "tunewise_compile": {"compile": True},
    "tunewise_nodrop": {"dropout": 0.0},
    "tunewise_frozen_nodrop": {"freeze_embeddings": True, "dropout": 0.0},
}
VARIANTS = [*TW_SETTINGS, "trainer", "trainer_gbl", "trainer_gbl_bf16", "pad512", "tfidf"]
DEFAULT = ["tunewise", "trainer", "trainer_gbl", "trainer_gbl_bf16", "pad512", "tfidf"]
RUN_ORDER = ["tfidf", "trainer", "trainer_gbl", "trainer_gbl_bf16", *TW_SETTINGS, "pad512"]
OUT_DIR = Path(__file__).resolve().parent / "out"
BATCH, LR, MAX_LEN, WARMUP, WD, CLIP = 32, 5e-5, 128, 0.1, 0.01, 1.0
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
BF16 = {"auto": "auto", "on": True, "off": False}
ARGS: argparse.Namespace | None = None


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/work/shared/datasets/sst2_sentences")
    p.add_argument("--only", default=",".join(DEFAULT), help="comma list of " + ",".join(VARIANTS))
    p.add_argument("--model", default="minilm", help="packaged name or local model directory")
    p.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where Trainer and tunewise run"
    )
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--seeds", default="42,43,44", help="tunewise seeds")
    p.add_argument(
        "--trainer-seeds", default=None, help="Trainer seeds (default: first of --seeds)"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--train-rows", type=int, default=None, help="first N train rows (smoke)")
    p.add_argument("--dev-rows", type=int, default=None, help="first N dev rows (smoke)")
    p.add_argument("--test-rows", type=int, default=None, help="first N test rows (smoke)")
    p.add_argument("--pad512-batches", type=int, default=15, help="timed batches of 8")
    p.add_argument(
        "--tw-bf16",
        choices=["auto", "on", "off"],
        default="auto",
        help="tunewise bf16 autocast (auto: on only where bf16 matmul is fast)",
    )
    p.add_argument("--no-ceiling", action="store_true", help="skip the GEMM ceiling measurement")
    p.add_argument("--markdown-out", type=Path, default=None, help="append the table here")
    p.add_argument(
        "--json-out",
        type=Path,
        default=None,
        help="raw numbers here (default benchmarks/out/spine-DATE.json); set it when several "
        "runs start at once",
    )
    args = p.parse_args(argv)
    args.only = [v.strip() for v in args.only.split(",") if v.strip()]
    if unknown := sorted(set(args.only) - set(VARIANTS)):
        p.error(f"--only: unknown variant(s) {', '.join(unknown)}; choose from {VARIANTS}")
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.trainer_seeds = [int(s) for s in (args.trainer_seeds or str(args.seeds[0])).split(",")]
    return args


def prepare_data(args, tmp: Path) -> dict:
    """Load the splits (the first N rows for smoke runs) and write the TSVs tunewise reads."""
    data = {}
    for name in ("train", "dev", "test"):
        with open(Path(args.data) / f"{name}.tsv", encoding="utf-8", newline="") as f:
            rows = [(r["sentence"], int(r["label"])) for r in csv.DictReader(f, delimiter="\t")]
        rows = rows[: getattr(args, f"{name}_rows") or None]
        path = tmp / f"{name}.tsv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter="\t", lineterminator="\n")
            w.writerows([("sentence", "label"), *rows])
        data[name] = {"texts": [t for t, _ in rows], "labels": [y for _, y in rows], "path": path}
    return data


def model_path() -> str:
    from tunewise.models.registry import resolve_model

    return resolve_model(ARGS.model).path


def rates(examples: int, real: int, total: int, seconds: float) -> dict:
    return {
        "examples_per_s": examples / seconds,
        "real_tokens_per_s": real / seconds,
        "real_token_share": real / max(total, 1),
        "train_seconds": seconds,
    }


def run_tunewise(args, data, seed: int, tmp: Path, variant: str = "tunewise") -> dict:
    import tunewise

    splits = {k: str(data[k]["path"]) for k in ("train", "dev", "test")}
    cfg = {
        "model": {"name": args.model, "max_length": MAX_LEN},
        "data": {**splits, "text_column": "sentence", "label_column": "label"},
        "train": {
            **{"epochs": args.epochs, "batch_size": BATCH, "lr": LR, "seed": seed},
            **{"bf16": BF16[args.tw_bf16], "checkpoint_every": None, "threads": args.threads},
            **TW_SETTINGS[variant],
        },
        "task": {"label_issues": False},  # outside train_seconds; skipped to save wall time
        "out": str(tmp / f"{variant}-{seed}"),
    }
    r = tunewise.train(cfg, overwrite=True, echo=lambda line: print(f"  [tunewise] {line}"))
    t = r.metrics["training"]
    keys = ("examples_per_s", "real_tokens_per_s", "real_token_share", "train_seconds")
    return {
        "seed": seed,
        **{k: t[k] for k in keys},
        "test_accuracy": r.metrics["test"]["accuracy"],
        "bf16": t["bf16"],
        "attention": t.get("attention"),
        "settings": TW_SETTINGS[variant],
        "timing": "tunewise's train_seconds (batches, forward, backward, step; no eval)",
    }


class CountingCollator:
    """Wraps DataCollatorWithPadding; counts the real and processed tokens of every batch."""

    def __init__(self, inner):
        self.inner, self.real, self.total, self.examples = inner, 0, 0, 0

    def __call__(self, features):
        batch = self.inner(features)
        self.real += int(batch["attention_mask"].sum())
        self.total += batch["attention_mask"].numel()
        self.examples += len(features)
        return batch


def tokenize_rows(tokenizer, split: dict) -> list[dict]:
    # A plain list of dicts is a map-style dataset to Trainer (datasets is not installed).
    enc = tokenizer(split["texts"], truncation=True, max_length=MAX_LEN)
    return [{**{k: enc[k][i] for k in enc}, "labels": y} for i, y in enumerate(split["labels"])]


def run_trainer(
    args, data, seed: int, tmp: Path, group_by_length: bool, bf16: bool = False
) -> dict:
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    path = model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    train_ds = tokenize_rows(tokenizer, data["train"])
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    targs = TrainingArguments(
        output_dir=str(tmp / f"trainer-{seed}-{int(group_by_length)}"),
        per_device_train_batch_size=BATCH,
        learning_rate=LR,
        num_train_epochs=args.epochs,
        seed=seed,
        # transformers 5 has no warmup_ratio: an int is steps, a float < 1 a ratio (rounded
        # up); int() here matches tunewise's rounding.
        warmup_steps=int(WARMUP * math.ceil(len(train_ds) / BATCH) * args.epochs),
        weight_decay=WD,
        max_grad_norm=CLIP,
        save_strategy="no",
        eval_strategy="no",
        report_to=[],
        logging_steps=50,
        use_cpu=args.device == "cpu",
        bf16=bf16,
        disable_tqdm=True,
        # transformers 5 replaces group_by_length=True with this
        train_sampling_strategy="group_by_length" if group_by_length else "random",
    )
    collator = CountingCollator(DataCollatorWithPadding(tokenizer))
    trainer = Trainer(
        model=model,
        args=targs,
        train_dataset=train_ds,
        data_collator=collator,
        processing_class=tokenizer,
    )
    t0 = time.perf_counter()
    out = trainer.train()
    seconds = time.perf_counter() - t0
    result = rates(collator.examples, collator.real, collator.total, seconds)
    # transformers 5 applies group_by_length to the *eval* sampler too (LengthGroupedSampler,
    # shuffled mega-batches), and predict() returns the logits in that order: scored against
    # the labels in file order, every earlier trainer_gbl row read ~0.50. Predict in file order.
    trainer.args.train_sampling_strategy = "random"
    logits = trainer.predict(tokenize_rows(tokenizer, data["test"])).predictions
    acc = float((np.argmax(logits, axis=-1) == np.asarray(data["test"]["labels"])).mean())
    return {
        "seed": seed,
        **result,
        "test_accuracy": acc,
        "trainer_train_samples_per_second": out.metrics.get("train_samples_per_second"),
        "optim": str(targs.optim),
        "warmup_steps": targs.warmup_steps,
        "steps": out.global_step,
        "timing": "wall clock around trainer.train()",
    }


def run_pad512(args, data) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    path = model_path()
    n = 8 * (args.pad512_batches + 1)  # one extra, untimed warm-up batch
    enc = AutoTokenizer.from_pretrained(path)(
        data["train"]["texts"][:n],
        padding="max_length",
        truncation=True,
        max_length=512,
        return_tensors="pt",
    )
    labels = torch.tensor(data["train"]["labels"][:n])
    set_seed(args.seeds[0])
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2).to(args.device)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    examples = real = total = 0
    seconds = 0.0
    for b, start in enumerate(range(0, len(labels), 8)):
        ids, mask = enc["input_ids"][start : start + 8], enc["attention_mask"][start : start + 8]
        t0 = time.perf_counter()
        y = labels[start : start + 8].to(args.device)
        out = model(input_ids=ids.to(args.device), attention_mask=mask.to(args.device), labels=y)
        out.loss.backward()
        opt.step()
        opt.zero_grad()
        if args.device == "cuda":
            torch.cuda.synchronize()
        if b > 0:
            seconds += time.perf_counter() - t0
            examples += len(ids)
            real += int(mask.sum())
            total += mask.numel()
    return {
        "seed": args.seeds[0],
        **rates(examples, real, total, seconds),
        "batches_timed": b,
        "timing": "wall clock per batch; first batch untimed",
    }


def run_tfidf(data) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x, y = vec.fit_transform(data["train"]["texts"]), data["train"]["labels"]
    x_dev, x_test = vec.transform(data["dev"]["texts"]), vec.transform(data["test"]["texts"])
    fits = {c: LogisticRegression(C=c, max_iter=2000).fit(x, y) for c in (0.25, 1.0, 4.0, 16.0)}
    dev = {c: m.score(x_dev, data["dev"]["labels"]) for c, m in fits.items()}
    best = max(dev, key=dev.get)  # C picked on dev, never on test
    acc = fits[best].score(x_test, data["test"]["labels"])
    return {"test_accuracy": float(acc), "C": best, "dev_accuracy": float(dev[best])}


def machine_info(args) -> dict:
    import transformers

    cpu, flags = "unknown", set()
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and cpu == "unknown":
                cpu = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_flags": sorted(f for f in flags if f.startswith(("avx512", "amx"))),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "threads": args.threads,
        "gpu": torch.cuda.get_device_name(0) if args.device == "cuda" else None,
    }


def summarize(runs: list[dict]) -> dict:
    out = {"seeds": [r["seed"] for r in runs if "seed" in r]}
    if runs and "bf16" in runs[0]:
        out["bf16"] = runs[0]["bf16"]
    for key in ("examples_per_s", "real_tokens_per_s", "real_token_share", "test_accuracy"):
        vals = [r[key] for r in runs if r.get(key) is not None]
        out[key] = statistics.mean(vals) if vals else None
        out[key + "_std"] = statistics.stdev(vals) if len(vals) > 1 else (0.0 if vals else None)
    return out


def strongest(info: dict) -> str:
    """The strongest Trainer setting on this CPU: group_by_length, plus bf16 where bf16 is
    fast (a CPU with AVX512-BF16 or AMX, or a GPU)."""
    fast = info.get("gpu") or set(BF16_FLAGS) & set(info["cpu_flags"])
    return "trainer_gbl_bf16" if fast else "trainer_gbl"


def bf16_used(name: str, summary: dict, info: dict) -> bool:
    if name.startswith("tunewise"):
        return bool(summary[name].get("bf16"))
    return name.endswith("_bf16")


def table(summary: dict, info: dict | None = None) -> str:
    def f(v, fmt: str, suffix: str = "") -> str:
        return "-" if v is None else format(v, fmt) + suffix

    info = info or {"cpu_flags": []}
    top = strongest(info)
    bases = [(summary.get(k) or {}).get("examples_per_s") for k in ("trainer", "trainer_gbl", top)]
    ceiling = info.get("ceiling_tokens_per_s") or {}
    rows = [
        "| variant | seeds | examples/s | vs Trainer default | vs Trainer gbl "
        f"| vs strongest ({top}) | real tokens/s | share of GEMM ceiling "
        "| real-token share | test accuracy (mean ± std) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in (v for v in VARIANTS if v in summary):
        s = summary[name]
        eps, acc = s["examples_per_s"], s["test_accuracy"]
        ratios = [f(eps / b if eps and b else None, ".2f", "x") for b in bases]
        acc_s = f(acc, ".4f") + ("" if acc is None else f" ± {s['test_accuracy_std']:.4f}")
        cap = ceiling.get("bf16" if bf16_used(name, summary, info) else "fp32")
        tps = s["real_tokens_per_s"]
        share = f(tps / cap if tps and cap else None, ".1%")
        rows.append(
            f"| {name} | {','.join(map(str, s['seeds'])) or '-'} | {f(eps, '.1f')} "
            f"| {' | '.join(ratios)} | {f(tps, '.0f')} | {share} "
            f"| {f(s['real_token_share'], '.1%')} | {acc_s} |"
        )
    return "\n".join(rows)


def main(argv=None) -> int:
    global ARGS
    args = ARGS = parse_args(argv)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # tunewise picks the GPU when one is visible
    command = " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    info = machine_info(args)
    if (
        args.tw_bf16 == "on"
        and "tunewise" in args.only
        and not set(BF16_FLAGS) & set(info["cpu_flags"])
    ):
        print(
            f"warning: this CPU shows none of {BF16_FLAGS} (torch capability "
            f"{info['torch_cpu_capability']}); bf16 autocast may be far slower than fp32 here"
        )
    raw, summary = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-spine-") as d:
        data = prepare_data(args, Path(d))
        sizes = {k: len(v["labels"]) for k, v in data.items()}
        print(f"data {args.data}: {sizes}; epochs {args.epochs}; threads {args.threads}")
        for name in (v for v in RUN_ORDER if v in args.only):
            torch.set_num_threads(args.threads)
            print(f"== {name}", flush=True)
            if name == "tfidf":
                raw[name] = [run_tfidf(data)]
            elif name in TW_SETTINGS:
                raw[name] = [run_tunewise(args, data, s, Path(d), name) for s in args.seeds]
            elif name == "pad512":
                raw[name] = [run_pad512(args, data)]
            else:
                gbl, bf16 = name.startswith("trainer_gbl"), name.endswith("_bf16")
                raw[name] = [
                    run_trainer(args, data, s, Path(d), gbl, bf16) for s in args.trainer_seeds
                ]
            summary[name] = summarize(raw[name])
            print(f"   {json.dumps(raw[name])}", flush=True)
    info["loadavg_end"] = os.getloadavg()
    if not args.no_ceiling:
        from gemm_ceiling import measure, non_embedding_params, tokens_ceiling

        gemm = measure(args.threads)
        params = non_embedding_params(args.model)
        info["gemm_gflops"] = {k: gemm[k] for k in ("fp32", "bf16")}
        info["non_embedding_params"] = params
        info["ceiling_tokens_per_s"] = {
            k: round(tokens_ceiling(gemm[k], params)) for k in ("fp32", "bf16")
        }
        print(
            f"GEMM ceiling: {info['gemm_gflops']} GFLOP/s -> {info['ceiling_tokens_per_s']} tokens/s"
        )
    md = table(summary, info)
    print(f"\n{md}\n")
    OUT_DIR.mkdir(exist_ok=True)
    out = args.json_out or OUT_DIR / f"spine-{stamp}.json"
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    record = {"command": command, "date": stamp, "machine": info, "args": settings}
    out.write_text(json.dumps({**record, "rows": sizes, "summary": summary, "runs": raw}, indent=2))
    print(f"raw numbers: {out}")
    if args.markdown_out:
        with open(args.markdown_out, "a", encoding="utf-8") as f:
            f.write(
                f"\n## Spine benchmark, {time.strftime('%Y-%m-%d %H:%M')}\n\n"
                f"Command: `{command}`\n\n"
                f"Machine: {info['cpu']} ({info['torch_cpu_capability']}), {info['cores']} cores, "
                f"{args.threads} threads; torch {info['torch']}, transformers "
                f"{info['transformers']}; {info['platform']}; load {info['loadavg_start'][0]:.2f}\n\n"
                f"Rows: {sizes}; epochs {args.epochs}; tunewise bf16 {args.tw_bf16}, Trainer fp32 "
                "(its default). Examples/s over training time only; Trainer timed by wall clock "
                "around `trainer.train()`, tunewise by its own `train_seconds`.\n\n"
                f"{md}\n\nRaw numbers: `benchmarks/out/{out.name}`\n"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
