"""A small BERT-style encoder from scratch: a WordPiece tokenizer trained on the user's text
(``tokenizers``; Chinese by character) and randomly initialised weights of a size preset.

The result is an ordinary transformers directory (``BertForMaskedLM`` + a fast tokenizer) that
the pretraining run starts from; it is built once per (text, size, vocabulary, seed) in the
tunewise cache and reused (a resume finds it there).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from tunewise.errors import UserError

SIZES: dict[str, dict] = {
    "tiny": {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2},
    "mini": {"hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4},
    "small": {"hidden_size": 512, "num_hidden_layers": 4, "num_attention_heads": 8},
}
"""Size presets (BERT-tiny/-mini/-small of Turc et al. 2019); the feed-forward is 4x hidden."""
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_tokenizer(texts: list[str], vocab_size: int, lowercase: bool = True):
    """A WordPiece tokenizer trained on ``texts``: BERT's normalizer puts spaces around every
    CJK character, so Chinese is tokenized by character and every character of the text is in
    the vocabulary (the alphabet is never cut)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer
    from transformers import BertTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = WordPieceTrainer(vocab_size=vocab_size, min_frequency=1, special_tokens=SPECIAL)
    tok.train_from_iterator(texts, trainer=trainer)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    return BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        do_lower_case=lowercase,
        tokenize_chinese_chars=True,
    )


def scratch_config(size: str, vocab_size: int, max_length: int):
    """The BertConfig of a size preset."""
    from transformers import BertConfig

    if size not in SIZES:
        raise UserError(f"--size {size!r}: the sizes are {', '.join(SIZES)}")
    s = SIZES[size]
    return BertConfig(
        vocab_size=vocab_size,
        intermediate_size=4 * s["hidden_size"],
        max_position_embeddings=max(512, max_length),
        tie_word_embeddings=True,
        **s,
    )


def build_scratch(
    texts: list[str],
    *,
    size: str,
    vocab_size: int,
    max_length: int,
    seed: int,
    root: Path,
    tokenizer_from: str | None = None,
    echo=None,
) -> Path:
    """The directory of a fresh encoder for ``texts`` (built under ``root`` once, reused).

    Args:
        tokenizer_from: a model path whose tokenizer to reuse instead of training one.
    """
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    echo = echo or (lambda line: None)
    scratch_config(size, vocab_size, max_length)  # an unknown size fails before any work
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\n")
    h.update(json.dumps([size, vocab_size, max_length, seed, tokenizer_from]).encode())
    out = root / f"{size}-{h.hexdigest()[:16]}"
    if (out / "config.json").is_file():
        echo(f"from scratch: reusing {out}")
        return out
    if tokenizer_from is None:
        echo(
            f"from scratch: training a WordPiece tokenizer (vocabulary {vocab_size:,}) on {len(texts):,} documents"
        )
        tok = train_tokenizer(texts, vocab_size)
    else:
        tok = AutoTokenizer.from_pretrained(tokenizer_from)
    cfg = scratch_config(size, len(tok), max_length)
    cfg.pad_token_id = tok.pad_token_id
    torch.manual_seed(seed)
    model = BertForMaskedLM(cfg)
    n = sum(p.numel() for p in model.parameters())
    echo(
        f"from scratch: BERT-style encoder '{size}' ({cfg.num_hidden_layers} layers, hidden "
        f"{cfg.hidden_size}, vocabulary {len(tok):,}: {n / 1e6:.2f}M parameters)"
    )
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
