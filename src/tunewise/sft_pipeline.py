"""The sft flow: chat data -> causal LM -> the shared loop -> dev loss, perplexity and
generation before/after -> the run directory.

``pipeline.train`` dispatches here on ``task.type == "sft"``; the run directory, the loop,
checkpoints and resume are the shared ones (``docs/run-directory.md`` lists what sft adds).
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import numpy as np

from tunewise.config import Config
from tunewise.errors import UserError
from tunewise.generation import META_FILE
from tunewise.run_steps import data_record, training_summary
from tunewise.rundir import RunDir, read_json, replace_dir, write_json


def load_sft_splits(cfg: Config) -> tuple[dict, dict]:
    """Train/dev/test examples; dev and test are split off train (seeded) when not given."""
    from tunewise.data.chat import read_sft

    d = cfg.data
    if d.train is None:
        raise UserError("data.train: a training file is required (--train)")
    splits = {"train": read_sft(d.train)}
    info = {"files": {"train": str(d.train)}}
    for name in ("dev", "test"):
        path = getattr(d, name)
        if path is not None:
            splits[name] = read_sft(path)
            info["files"][name] = str(path)
    missing = [n for n in ("dev", "test") if n not in splits and getattr(d.split, n) > 0]
    if missing:
        n = len(splits["train"])
        order = np.random.default_rng(d.split.seed).permutation(n).tolist()
        taken = 0
        for name in missing:
            k = max(1, round(n * getattr(d.split, name))) if n >= 10 else 0
            splits[name] = [splits["train"][i] for i in sorted(order[taken : taken + k])]
            taken += k
        splits["train"] = [splits["train"][i] for i in sorted(order[taken:])]
        info["split"] = {
            "from_train": missing,
            "dev": d.split.dev,
            "test": d.split.test,
            "seed": d.split.seed,
        }
    if not splits["train"]:
        raise UserError(f"{d.train}: no training rows left after splitting off dev/test")
    info["rows"] = {k: len(v) for k, v in splits.items()}
    return splits, info


def _prepare_tokenizer(tokenizer, cfg: Config, chat: bool):
    from tunewise.tasks.chat_template import end_of_turn, set_template, stop_token_ids

    if chat:
        set_template(tokenizer, cfg.sft.chat_template)
        eot = end_of_turn(tokenizer)
    else:
        if tokenizer.eos_token is None:
            raise UserError("this tokenizer has no EOS token; plain-text training needs one")
        eot = tokenizer.eos_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return eot, stop_token_ids(tokenizer, eot)


def plain_model(raw, method_cfg):
    """The model to save as a plain transformers directory: the method (LoRA ...) merged into
    a copy (training goes on with the adapters), or the model itself for full fine-tuning."""
    from tunewise import methods

    if methods.resolve(method_cfg)[0].name == "full":
        return raw
    return methods.merge_model(copy.deepcopy(raw), method_cfg)


def _check_method(method_cfg) -> None:
    from tunewise import methods

    method = methods.resolve(method_cfg)[0]
    if not method.mergeable or method.name == "head":
        raise UserError(
            f"method {method.name}: sft saves a plain transformers model (what `generate`, "
            "`chat` and any transformers user load), so it needs a method that merges into the "
            "weights: lora, rslora, dora, adalora, ia3 or full"
        )


def _dev_answers(model, tokenizer, examples, cfg, stop_ids, pad_id) -> list[dict]:
    from tunewise.generation import generate_batch
    from tunewise.tasks.chat_template import encode_prompt

    out = []
    for s in range(0, len(examples), 8):
        chunk = examples[s : s + 8]
        prompts = [encode_prompt(tokenizer, ex.prompt) for ex in chunk]
        out += generate_batch(
            model, tokenizer, prompts, cfg.sft.eval_max_new_tokens, stop_ids, pad_id
        )
    return out


def train_sft(cfg: Config, run: RunDir, accelerator, resume: bool, echo) -> tuple[Path, dict, bool]:
    """Fine-tune a decoder as ``cfg`` says; returns (run path, metrics, is main process)."""
    import torch
    from transformers import AutoModelForCausalLM, set_seed

    from tunewise import methods
    from tunewise.evaluation.generation import generation_metrics, write_samples
    from tunewise.models.loading import load_pretrained, load_tokenizer, quiet_transformers
    from tunewise.tasks.sft import SFTTask
    from tunewise.training.loop import fit, planned_steps

    main = accelerator.is_main_process
    _check_method(cfg.method)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    splits, info = load_sft_splits(cfg)
    chat = any(ex.messages is not None for ex in splits["train"])
    resolved, tokenizer = load_pretrained(cfg.model.name, lambda p: load_tokenizer(p))
    eot, stop_ids = _prepare_tokenizer(tokenizer, cfg, chat)
    task = SFTTask(eot)
    pad_id = tokenizer.pad_token_id
    enc = {k: task.encode(v, tokenizer, cfg.model.max_length) for k, v in splits.items()}
    if len(enc["train"]) == 0:
        raise UserError(f"{cfg.data.train}: no row has a trainable token within max_length")
    train_data = task.pack(enc["train"], cfg.model.max_length) if cfg.sft.packing else enc["train"]
    for name, e in enc.items():
        if e.truncated:
            echo(
                f"{name}: {e.truncated} of {e.stats['rows']} conversations truncated at "
                f"max_length {cfg.model.max_length} (their end-of-turn is cut: raise it)"
            )
    if main:
        write_json(
            run.data,
            data_record(info, resolved, enc, mode="chat" if chat else "text", end_of_turn=eot),
        )
    set_seed(cfg.train.seed)
    _, model = load_pretrained(
        cfg.model.name, AutoModelForCausalLM.from_pretrained, dtype=torch.float32
    )
    if model.config.pad_token_id is None:
        model.config.pad_token_id = pad_id
    # no KV cache while training: transformers then reads packed position ids as example
    # boundaries (with a cache it would let packed examples attend to each other)
    model.config.use_cache = False
    model.to(accelerator.device)
    dev_examples = [ex for ex in splits.get("dev", []) if ex.messages][: cfg.sft.eval_samples]
    # the base model's dev loss and answers, kept for the before/after comparison
    before_file = run.path / ".before.json"
    before = {"answers": None, "dev": None}
    if resume and before_file.is_file():
        before = read_json(before_file)
    else:
        if len(enc.get("dev", [])):
            before["dev"] = task.evaluate(
                model, enc["dev"], cfg.train.batch_size * 2, accelerator, pad_id
            )
        if dev_examples and main:
            echo(f"generating {len(dev_examples)} dev answers with the base model")
            before["answers"] = _dev_answers(model, tokenizer, dev_examples, cfg, stop_ids, pad_id)
        if main:
            write_json(before_file, before)
    total_steps, _ = planned_steps(train_data, cfg.train, accelerator.num_processes)
    model = methods.apply_method(model, cfg.method, task, total_steps=total_steps)
    hooks = methods.method_hooks(model, cfg.method)
    method_info = {**methods.method_record(cfg.method), **methods.trainable_summary(model)}
    echo(
        f"method {method_info['name']}: {method_info['trainable']:,} of "
        f"{method_info['total']:,} parameters trainable ({method_info['percent']:.2f}%), "
        f"lr {cfg.train.lr:g}"
    )
    meta = {
        "task": "sft",
        "mode": "chat" if chat else "text",
        "end_of_turn": eot,
        "stop_token_ids": stop_ids,
        "max_length": cfg.model.max_length,
        "base_model": resolved.name,
        "chat_template": cfg.sft.chat_template or "model's own",
        "method": methods.method_record(cfg.method),
        "merged": True,
    }

    def save_model(raw) -> None:
        tmp = run.path / ".model.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        with quiet_transformers():
            m = plain_model(raw, cfg.method)
            m.generation_config.eos_token_id = stop_ids
            m.generation_config.pad_token_id = pad_id
            m.config.use_cache = True  # for users' generate(); restored below for training
            try:
                m.save_pretrained(tmp)
            finally:
                m.config.use_cache = False
            tokenizer.save_pretrained(tmp)  # with the chat template training used
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2))
        replace_dir(tmp, run.model)

    log_f = open(run.log, "a", encoding="utf-8") if main else None

    def log(rec: dict) -> None:
        if log_f:
            log_f.write(json.dumps(rec) + "\n")
            log_f.flush()

    echo(
        f"model {resolved.name} ({resolved.source}: {resolved.path}); "
        f"{len(splits['train'])} train / {len(splits.get('dev', []))} dev / "
        f"{len(splits.get('test', []))} test rows ({'chat' if chat else 'plain text'}); "
        f"{len(train_data)} training sequences{' (packed)' if cfg.sft.packing else ''}"
    )
    try:
        state = fit(
            model=model,
            task=task,
            train=train_data,
            dev=enc.get("dev") if len(enc.get("dev", [])) else None,
            cfg=cfg.train,
            accelerator=accelerator,
            pad_id=pad_id,
            metric="loss",
            checkpoint_dir=run.checkpoints,
            resume=resume,
            on_best=save_model,
            method_hooks=hooks,
            log=log,
            echo=echo,
        )
    finally:
        if log_f:
            log_f.close()
    accelerator.wait_for_everyone()
    # Final evaluation: the saved best model, reloaded as a user will load it.
    with quiet_transformers():
        best = AutoModelForCausalLM.from_pretrained(str(run.model), dtype=torch.float32)
    best.to(accelerator.device)
    bs = cfg.train.batch_size * 2
    metrics: dict = {"metric_for_best": "loss", "best_step": state.best_step}
    for name in ("dev", "test"):
        if len(enc.get(name, [])):
            metrics[name] = task.evaluate(best, enc[name], bs, accelerator, pad_id)
    if before["dev"] is not None:
        metrics["dev_before"] = before["dev"]
    if dev_examples and main:
        after = _dev_answers(best, tokenizer, dev_examples, cfg, stop_ids, pad_id)
        refs = [ex.reference for ex in dev_examples]
        before = before["answers"]
        metrics["generation"] = {
            "before": generation_metrics(before, refs),
            "after": generation_metrics(after, refs),
            "max_new_tokens": cfg.sft.eval_max_new_tokens,
        }
        write_samples(run.path, dev_examples, before, after)
    metrics["method"] = method_info
    metrics["training"] = training_summary(state, accelerator) | {
        "trained_tokens": enc["train"].stats["trained_tokens"],
        "packing": cfg.sft.packing,
    }
    if main:
        write_json(run.metrics, metrics)
        before_file.unlink(missing_ok=True)
        shutil.rmtree(run.checkpoints, ignore_errors=True)
        run.set_status("completed", finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    accelerator.wait_for_everyone()
    return run.path, metrics, main
