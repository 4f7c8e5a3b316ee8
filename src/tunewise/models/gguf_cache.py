"""Packaged GGUF models converted once into a cached float32 safetensors directory.

transformers loads a GGUF file (dequantized to float) in ~20 s and refuses to ``save_pretrained``
such a model, so the first use rebuilds the model from its config without
``quantization_config``, loads the dequantized weights and saves a plain transformers directory
(weights, tokenizer, chat template). Later uses load that directory in well under a second.

Where: ``$TUNEWISE_CACHE/models/<name>`` (default ``~/.cache/tunewise/models/<name>``). The
directory is written under a temporary name and renamed into place when complete, so a killed
conversion never leaves a half cache. Clear it with ``rm -rf`` on the path
``tunewise models`` prints; the next use converts again.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DONE = "tunewise-converted.json"


def cache_root() -> Path:
    """The tunewise cache folder (``$TUNEWISE_CACHE`` or ``~/.cache/tunewise``)."""
    env = os.environ.get("TUNEWISE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tunewise"


def cached_dir(name: str) -> Path:
    return cache_root() / "models" / name


def is_converted(name: str) -> bool:
    return (cached_dir(name) / DONE).is_file()


def convert_gguf(name: str, folder: Path, gguf_file: str, echo=None) -> Path:
    """Convert ``folder/gguf_file`` into the cache once; return the cached directory."""
    import json

    final = cached_dir(name)
    if (final / DONE).is_file():
        return final
    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    echo(f"converting {gguf_file} to float32 safetensors in {final} (once, ~20-60 s)")
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from tunewise.models.quiet import quiet_transformers

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        with quiet_transformers():
            tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf_file)
            gguf_model = AutoModelForCausalLM.from_pretrained(
                str(folder), gguf_file=gguf_file, dtype=torch.float32
            )
            cfg = gguf_model.config.to_dict()
            cfg.pop("quantization_config", None)
            config = AutoConfig.for_model(**cfg)
            model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
            # tied embeddings: lm_head.weight may be absent from the GGUF state dict
            missing = [
                k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)
            ]
            if missing or unexpected:
                raise RuntimeError(f"GGUF conversion: missing {missing}, unexpected {unexpected}")
            del gguf_model
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
        (tmp / DONE).write_text(json.dumps({"source": str(folder / gguf_file)}) + "\n")
        if (final / DONE).is_file():
            return final  # another process finished first; ours is dropped below
        if final.exists():  # stale and unmarked: never used, safe to replace
            shutil.rmtree(final)
        try:
            os.replace(tmp, final)
        except OSError:
            if not (final / DONE).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
