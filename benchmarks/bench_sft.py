"""SFT with LoRA on SmolLM2-135M-Instruct: tunewise vs Hugging Face Trainer, side by side.

Data: banking customer-service dialogues (../shared/datasets/sgd_banks_dialogs, Schema-Guided
Dialogue, CC BY-SA 4.0) turned into chat examples: a system prompt, then windows of up to
``--turns`` turns (user/assistant alternating), every assistant turn trained.

Both tools get the same tokenized examples (tunewise's chat template, labels -100 on
everything but assistant turns), the same LoRA (peft, r=8, alpha=16, q/k/v/o projections),
the same lr, batch size, epochs, length-grouped batches and threads. Reported: training
tokens/s (real, non-padding tokens of the batches per second of training steps) and dev
perplexity (token-weighted over assistant tokens) of the base model and of each fine-tuned one.

    .venv/bin/python benchmarks/bench_sft.py --train-dialogues 24 --dev-dialogues 8
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHARED_DATASETS", ROOT.parent / "shared" / "datasets"))
SYSTEM = "You are the customer-service assistant of a bank. Answer briefly and helpfully."
LORA = {
    "r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
}


def dialogues_to_chats(path: Path, limit: int, turns: int) -> list[dict]:
    """SGD dialogues -> chat rows: windows of ``turns`` turns starting at a user turn."""
    rows = []
    for line in path.read_text().splitlines()[:limit]:
        d = json.loads(line)
        msgs = [
            {"role": "user" if t["speaker"] == "USER" else "assistant", "content": t["utterance"]}
            for t in d["turns"]
        ]
        for s in range(0, len(msgs), turns):
            window = msgs[s : s + turns]
            if (
                window
                and window[0]["role"] == "user"
                and any(m["role"] == "assistant" for m in window)
            ):
                while window[-1]["role"] != "assistant":
                    window = window[:-1]
                rows.append({"messages": [{"role": "system", "content": SYSTEM}] + window})
    return rows


def run_tunewise(args, train_file, dev_file, out) -> dict:
    import tunewise

    cfg = {
        "task": {"type": "sft"},
        "model": {"name": "smollm2", "max_length": args.max_length},
        "data": {"train": str(train_file), "dev": str(dev_file), "split": {"test": 0.0}},
        "sft": {"eval_samples": 0},
        "train": {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "threads": args.threads,
            "bf16": False,
            "seed": 0,
            "warmup_ratio": 0.1,
            "checkpoint_every": 10**6,
        },
        "doctor": {"enabled": False},
        "out": str(out),
    }
    cfg.update(tunewise_method_config())
    r = tunewise.train(cfg, echo=lambda line: print("  [tunewise]", line, file=sys.stderr))
    t = r.metrics["training"]
    return {
        "tokens_per_s": t["real_tokens_per_s"],
        "train_seconds": t["train_seconds"],
        "steps": t["steps"],
        "dev_ppl_before": r.metrics["dev_before"]["perplexity"],
        "dev_ppl_after": r.metrics["dev"]["perplexity"],
    }


def tunewise_method_config() -> dict:
    """LoRA with the settings above, spelled the way this tunewise's config spells it."""
    from tunewise.config import Config

    if "method" in Config.model_fields:
        return {
            "method": {
                "name": "lora",
                "lora": {
                    k: v
                    for k, v in {
                        "r": LORA["r"],
                        "alpha": LORA["lora_alpha"],
                        "dropout": LORA["lora_dropout"],
                        "target_modules": LORA["target_modules"],
                    }.items()
                },
            }
        }
    return {}


def run_trainer(args, train_rows, dev_rows, out) -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    from tunewise.models.registry import resolve_model
    from tunewise.tasks.sft.chat_template import end_of_turn
    from tunewise.tasks.sft.data import parse_row
    from tunewise.tasks.sft.task import IGNORE, SFTTask

    path = resolve_model("smollm2").path
    tok = AutoTokenizer.from_pretrained(path)
    task = SFTTask(end_of_turn(tok))
    train = task.encode([parse_row(r, "train") for r in train_rows], tok, args.max_length)
    dev = task.encode([parse_row(r, "dev") for r in dev_rows], tok, args.max_length)
    ds = [{"input_ids": i, "labels": l} for i, l in zip(train.input_ids, train.labels)]

    def collate(rows):
        # what a Trainer user writes: pad ids, -100 labels, the model's own (shifted) loss
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[k, :n] = torch.tensor(r["input_ids"])
            labels[k, :n] = torch.tensor(r["labels"])
            mask[k, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **LORA))
    targs = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=args.batch_size,
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        # transformers 5 has no warmup_ratio; tunewise rounds 10% of the steps down
        warmup_steps=int(0.1 * math.ceil(len(ds) / args.batch_size) * args.epochs),
        lr_scheduler_type="linear",
        weight_decay=0.01,
        logging_steps=10**6,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length",
        remove_unused_columns=False,
        disable_tqdm=True,
    )
    tr = Trainer(model=model, args=targs, train_dataset=ds, data_collator=collate)
    real = sum(train.lengths) * args.epochs
    res = tr.train()
    secs = res.metrics["train_runtime"]

    class _Acc:  # what SFTTask.evaluate needs from accelerate, for one process
        process_index, num_processes, device = 0, 1, torch.device("cpu")

    after = task.evaluate_loss(model, dev, args.batch_size * 2, _Acc(), tok.pad_token_id)
    return {
        "tokens_per_s": round(real / secs, 1),
        "train_seconds": round(secs, 2),
        "steps": res.global_step,
        "dev_ppl_after": after["perplexity"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-dialogues", type=int, default=24)
    ap.add_argument("--dev-dialogues", type=int, default=8)
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--epochs", type=float, default=1)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write the JSON result here")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    src = SHARED / "sgd_banks_dialogs"
    if not src.is_dir():
        sys.exit(f"{src} is absent: set SHARED_DATASETS")
    train_rows = dialogues_to_chats(src / "train.jsonl", args.train_dialogues, args.turns)
    dev_rows = dialogues_to_chats(src / "dev.jsonl", args.dev_dialogues, args.turns)
    tmp = Path(tempfile.mkdtemp(prefix="bench-sft-"))
    tf, df = tmp / "train.jsonl", tmp / "dev.jsonl"
    tf.write_text("".join(json.dumps(r) + "\n" for r in train_rows))
    df.write_text("".join(json.dumps(r) + "\n" for r in dev_rows))
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, torch {torch.__version__}",
        "load_before": os.getloadavg(),
        "settings": {
            **vars(args),
            "out": None,
            "train_examples": len(train_rows),
            "dev_examples": len(dev_rows),
            "lora": LORA,
        },
    }
    print(f"{len(train_rows)} train / {len(dev_rows)} dev chat examples", file=sys.stderr)
    result["tunewise"] = run_tunewise(args, tf, df, tmp / "tw")
    result["hf_trainer"] = run_trainer(args, train_rows, dev_rows, tmp / "hf")
    result["load_after"] = os.getloadavg()
    result["speed_ratio_tunewise_over_trainer"] = round(
        result["tunewise"]["tokens_per_s"] / result["hf_trainer"]["tokens_per_s"], 3
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
