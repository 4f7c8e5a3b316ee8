"""Export a fine-tuned classifier to ONNX (optionally int8), checked against torch.

``export_onnx(run, out)`` writes ``out/`` with ``model.onnx``, the tokenizer, ``config.json``,
``tunewise.json`` and ``export.json`` (format, precision, size, parity). Parity runs the torch
model and the ONNX Runtime session on a probe set and records label agreement and the largest
logit difference; an export that fails parity writes nothing (it is built in a temporary
folder renamed into place only when parity holds) and raises :class:`ParityError`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from tunewise.errors import UserError
from tunewise.export.onnx_predictor import EXPORT_FILE, ONNX_FILE, OnnxPredictor
from tunewise.export.parity import probe_examples
from tunewise.export.quantize import INT8_BAR, QualityBar
from tunewise.outdir import claim, prepare_export_out
from tunewise.rundir import META_FILE, replace_dir, write_json
from tunewise.tasks.classification.predictor import Predictor

# fp32 must match torch to float noise; int8 must keep the model's quality (quantize.INT8_BAR)
LIMITS = {"fp32": {"agreement": 1.0, "max_logit_diff": 1e-3}, "int8": INT8_BAR}
PROBE_ROWS = 1000


class ParityError(UserError):
    """The exported model disagrees with the torch model beyond the limits (the CLI prints
    one ``error: ... PARITY FAILED ...`` line and exits 2)."""


class _LogitsOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kw = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **kw).logits


def export_onnx(
    source: str | Path,
    out: str | Path,
    quantize: str | None = None,
    probe: list | str | Path | None = None,
    opset: int = 17,
    overwrite: bool = False,
    probe_rows: int = PROBE_ROWS,
    atol: float | None = None,
) -> dict:
    """Export ``source`` (a finished run or its model dir) to ``out``; returns export.json.

    Args:
        quantize: None (fp32) or "int8" (the fastest recipe on this CPU that keeps the model's
            quality on the run's dev rows: export/quantize.py).
        probe: examples (or a data file) for the parity check [the run's dev/test/train
            file, else generated sentences]; at most ``probe_rows`` are used.
        atol: largest logit difference accepted for fp32 [1e-3]; int8 is judged on quality.

    Raises:
        UserError: bad source, quantize value, or an existing ``out`` without ``overwrite``.
        ParityError: fp32 disagrees with torch, or no int8 recipe keeps the quality
            (``LIMITS``); nothing is written.
    """
    if quantize not in (None, "int8"):
        raise UserError(f"--quantize {quantize!r}: the choices are int8 (or leave it out)")
    out = Path(out)
    prepare_export_out(out, overwrite)
    from tunewise.run.api import load

    pred = load(source)
    if not isinstance(pred, Predictor):
        raise UserError(
            f"{source}: a {pred.task.name} run; ONNX export covers classification runs "
            "(their micro-batched int8 serving); export this run with --format hf"
        )
    model_dir = pred.model_dir
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        info = _export_into(pred, source, model_dir, tmp, quantize, probe, opset, probe_rows, atol)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed export leaves nothing behind
        raise
    claim(tmp, "export")
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(tmp, out)
    return info


def _export_into(pred, source, model_dir, tmp, quantize, probe, opset, probe_rows, atol) -> dict:
    """Write the export into ``tmp``; raise ParityError (nothing kept) when no recipe passes."""
    t0 = time.time()
    pred.tokenizer.save_pretrained(tmp)
    for f in (META_FILE, "config.json"):
        shutil.copy(model_dir / f, tmp / f)
    if isinstance(probe, list):
        probe, probe_from = probe[:probe_rows], f"{min(len(probe), probe_rows)} given examples"
    else:
        probe, probe_from = probe_examples(
            source, pred.tokenizer, probe_rows, probe, pred.task.multi_label
        )
    if not probe:
        raise UserError("parity check: the probe set is empty")
    # reference logits first: tracing leaves the in-process torch model changed
    reference = pred.logits(probe)
    fp32_dir = tmp / "fp32" if quantize else tmp
    if quantize:
        shutil.copytree(tmp, fp32_dir)
    _to_onnx(pred, fp32_dir / ONNX_FILE, opset)
    limits = dict(LIMITS["fp32"])
    if atol is not None:
        limits["max_logit_diff"] = atol
    parity = check_parity(pred, reference, OnnxPredictor(fp32_dir, batch_size=32), probe, limits)
    if not parity["ok"]:
        raise ParityError(
            f"PARITY FAILED: {parity['message']} on {probe_from}; nothing was written"
        )
    quantization = None
    if quantize:
        quantization, parity = _int8_into(pred, reference, probe, fp32_dir, tmp, probe_from)
    parity["probe"] = probe_from
    info = {
        "format": "onnx",
        "precision": quantize or "fp32",
        "source": str(Path(source).resolve()),
        "opset": opset,
        "quantization": quantization,
        "file": ONNX_FILE,
        "size_bytes": (tmp / ONNX_FILE).stat().st_size,
        "dir_size_bytes": sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file()),
        "seconds": round(time.time() - t0, 1),
        "parity": parity,
        "versions": _versions(),
    }
    write_json(tmp / EXPORT_FILE, info)
    return info


def _int8_into(pred, reference, probe, fp32_dir: Path, tmp: Path, probe_from: str):
    """Choose an int8 recipe (export/quantize.py), move its model into ``tmp``; returns the
    quantization record and the chosen model's parity. ParityError when none keeps quality."""
    from tunewise.export import quantize as q

    bar = QualityBar(pred, reference, probe)
    onnx_pred = {}

    def predictor(d: Path) -> OnnxPredictor:
        if d not in onnx_pred:
            onnx_pred[d] = OnnxPredictor(d, batch_size=32, threads=1)
        return onnx_pred[d]

    def speed(d: Path) -> float:
        p = predictor(d)
        p.logits(probe[:64])  # warm-up
        t = time.perf_counter()
        p.logits(probe)
        return len(probe) / (time.perf_counter() - t)

    feeds = q.calibration_feeds(_feeds(pred, probe))
    work = tmp / "candidates"
    recipe, tried, folder = q.choose(
        fp32_dir,
        work,
        judge=lambda d: bar.judge(predictor(d).logits(probe)),
        speed=speed,
        logits=lambda d: predictor(d).logits(probe[:256]),
        calibration=feeds,
    )
    if recipe is None:
        best = max(tried, key=lambda r: (r.get("delta", -1), r.get("label_agreement", 0)))
        shutil.rmtree(work, ignore_errors=True)
        raise ParityError(
            f"PARITY FAILED (best of {len(tried)} int8 recipes: {best['recipe']}): "
            f"{best['message']} on {probe_from}; nothing was written"
        )
    chosen = next(r for r in tried if r["recipe"] == recipe.name)
    shutil.move(str(folder / ONNX_FILE), str(tmp / ONNX_FILE))
    parity = check_parity(pred, reference, OnnxPredictor(tmp, batch_size=32), probe, {})
    parity.update(quality=chosen["quality"], ok=True, message=chosen["message"])
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(fp32_dir, ignore_errors=True)
    return (
        {
            "method": f"onnxruntime {recipe.family} int8, QInt8 weights per channel",
            "recipe": recipe.name,
            "family": recipe.family,
            "fp32_groups": recipe.fp32_groups,
            "chosen_because": "the fastest recipe that keeps the model's quality on this CPU",
            "cpu": q.cpu_int8(),
            "tried": tried,
        },
        parity,
    )


def _feeds(pred, probe) -> list[dict]:
    """The probe as ONNX Runtime inputs, in batches of 16 (calibration of static int8)."""
    data = pred.task.encode(probe, pred.tokenizer, pred.max_length, with_labels=False)
    pad = pred.tokenizer.pad_token_id or 0
    feeds = []
    for at in range(0, min(len(data), 256), 16):
        idx = list(range(at, min(at + 16, len(data))))
        b = {k: v.numpy() for k, v in pred.task.collate(data, idx, pad).items()}
        b.setdefault("token_type_ids", np.zeros_like(b["input_ids"]))
        feeds.append({k: b[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
    return feeds


# torch.onnx.export, not optimum's exporter: optimum-onnx 0.1.0 (with optimum 2.3.0, the
# newest in the index) does not import under transformers 5.24 (ImportError:
# get_parameter_dtype; benchmarks/bench_libraries.py).
def _to_onnx(pred: Predictor, path: Path, opset: int) -> None:
    import warnings

    enc = pred.tokenizer(["a probe sentence", "and a second, longer probe sentence"], padding=True)
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in enc:
        names.append("token_type_ids")
    args = tuple(torch.tensor(enc[n]) for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch"}}
    base = pred.model
    if hasattr(base, "merge_and_unload"):  # a PEFT adapter: fold it into the weights first
        base = base.merge_and_unload()
    model = _LogitsOnly(base.float().eval())
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )


def check_parity(
    pred: Predictor, reference: np.ndarray, exported: Predictor, probe: list, lim: dict
) -> dict:
    """Label agreement and logit differences of ``exported`` against torch's ``reference``
    logits on ``probe``."""
    a, b = reference, exported.logits(probe)
    ya = pred.task.predict(a, pred.threshold)
    yb = pred.task.predict(b, pred.threshold)
    same = (ya == yb) if ya.ndim == 1 else (ya == yb).all(axis=1)
    diff = np.abs(a - b)
    res = {
        "n": len(probe),
        "rows": len(probe),
        "label_agreement": round(float(same.mean()), 6),
        "max_logit_diff": float(diff.max()),
        "mean_logit_diff": float(diff.mean()),
        "limits": lim,
    }
    bad = []
    if "agreement" in lim and res["label_agreement"] < lim["agreement"]:
        bad.append(f"label agreement {res['label_agreement']:.4f} < {lim['agreement']}")
    if "max_logit_diff" in lim and res["max_logit_diff"] > lim["max_logit_diff"]:
        bad.append(
            f"largest logit difference {res['max_logit_diff']:.2e} > {lim['max_logit_diff']}"
        )
    res["ok"] = not bad
    res["message"] = "; ".join(bad) or (
        f"{res['label_agreement']:.2%} labels agree on {res['n']} probe texts, "
        f"largest logit difference {res['max_logit_diff']:.2e}"
    )
    return res


def _versions() -> dict:
    import onnx
    import onnxruntime
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def export_onnx_format(
    run,
    out,
    *,
    merge: bool = True,
    probe=None,
    probe_rows: int = PROBE_ROWS,
    atol: float | None = None,
    overwrite: bool = False,
    echo=print,
    quantize: str | None = None,
) -> dict:
    """`tunewise export --format onnx`: the export record, parity included (adapters are
    always folded into the weights, so ``merge`` changes nothing)."""
    info = export_onnx(
        run,
        out,
        quantize=quantize,
        probe=probe,
        probe_rows=probe_rows,
        atol=atol,
        overwrite=overwrite,
    )
    echo(
        f"onnx {info['precision']}: {info['file']} {info['size_bytes'] / 1e6:.1f} MB, "
        f"parity on {info['parity']['probe']}"
    )
    return info | {"plain_transformers": False}
