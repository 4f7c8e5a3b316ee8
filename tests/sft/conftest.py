"""A tiny random Llama (hidden 32, 2 layers) with a byte-level tokenizer and a ChatML template,
built in-process: pad == EOS == <|im_end|>, exactly the trap SmolLM2 sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def build_tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from tunewise.tasks.sft.chat_template import CHATML

    byte_chars = pre_tokenizers.ByteLevel.alphabet()
    vocab = {t: i for i, t in enumerate(SPECIALS)}
    for c in sorted(byte_chars):
        vocab[c] = len(vocab)
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tk.decoder = decoders.ByteLevel()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    tok.add_special_tokens({"additional_special_tokens": SPECIALS})
    tok.chat_template = CHATML
    return tok


def build_tiny_llama(d: Path) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tiny_tokenizer()
    tok.save_pretrained(d)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(d)
    return d


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tiny_tokenizer()


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def sft_config(model_dir: Path, data: dict, out: Path, **train) -> dict:
    """A seconds-long sft run on the tiny Llama (full fine-tuning unless overridden)."""
    return {
        "task": {"type": "sft"},
        "model": {"name": str(model_dir), "max_length": 96},
        "data": {k: str(v) for k, v in data.items()},
        "sft": {"eval_samples": 4, "eval_max_new_tokens": 40},
        # a random 2-layer model learns to stop fast with every weight free; LoRA (the decoder
        # default) is tested on its own and on the real smollm2
        "method": {"name": "full"},
        "train": {
            "epochs": 10,
            "batch_size": 8,
            "lr": 1e-2,
            "warmup_ratio": 0.05,
            "bf16": False,
            "seed": 3,
            "threads": 1,
            **train,
        },
        "doctor": {"enabled": False},
        "out": str(out),
    }
