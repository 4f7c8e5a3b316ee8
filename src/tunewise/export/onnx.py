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
from tunewise.export.kinds import kind_of
from tunewise.export.onnx_predictor import EXPORT_FILE, ONNX_FILE
from tunewise.export.quantize import INT8_BAR, QualityBar
from tunewise.outdir import claim, prepare_export_out
from tunewise.rundir import META_FILE, model_dir_of, replace_dir, write_json

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
    kind = kind_of(pred)
    if kind is None:
        raise UserError(
            f"{source}: a {pred.task.name} run; ONNX export covers classification and token "
            "classification runs (their micro-batched int8 serving); export it with --format hf"
        )
    model_dir = model_dir_of(source)[1]
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        info = _export_into(kind, source, model_dir, tmp, quantize, probe, opset, probe_rows, atol)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a failed export leaves nothing behind
        raise
    claim(tmp, "export")
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(tmp, out)
    return info


def _export_into(kind, source, model_dir, tmp, quantize, probe, opset, probe_rows, atol) -> dict:
    """Write the export into ``tmp``; raise ParityError (nothing kept) when no recipe passes."""
    t0 = time.time()
    pred = kind.pred
    pred.tokenizer.save_pretrained(tmp)
    for f in (META_FILE, "config.json"):
        shutil.copy(model_dir / f, tmp / f)
    probe_from = kind.choose_probe(source, probe, probe_rows)
    if not kind.probe:
        raise UserError("parity check: the probe set is empty")
    # reference outputs first: tracing leaves the in-process torch model changed
    reference = kind.outputs(pred)
    fp32_dir = tmp / "fp32" if quantize else tmp
    if quantize:
        shutil.copytree(tmp, fp32_dir)
    _to_onnx(pred, fp32_dir / ONNX_FILE, opset)
    limits = dict(LIMITS["fp32"])
    if atol is not None:
        limits["max_logit_diff"] = atol
    fp32 = kind.outputs(kind.onnx_class(fp32_dir, batch_size=32))
    parity = check_parity(kind, reference, fp32, limits)
    if not parity["ok"]:
        raise ParityError(
            f"PARITY FAILED: {parity['message']} on {probe_from}; nothing was written"
        )
    quantization = None
    if quantize:
        quantization, parity = _int8_into(kind, reference, fp32_dir, tmp, probe_from)
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


def _int8_into(kind, reference, fp32_dir: Path, tmp: Path, probe_from: str):
    """Choose an int8 recipe (export/quantize.py), move its model into ``tmp``; returns the
    quantization record and the chosen model's parity. ParityError when none keeps quality."""
    from tunewise.export import quantize as q

    bar = QualityBar(kind, reference)
    opened = {}

    def model(d: Path):
        if d not in opened:
            opened[d] = kind.onnx_class(d, batch_size=32, threads=1)
        return opened[d]

    def speed(d: Path) -> float:
        kind.outputs(model(d), 64)  # warm-up
        t = time.perf_counter()
        kind.outputs(model(d))
        return len(kind.probe) / (time.perf_counter() - t)

    work = tmp / "candidates"
    recipe, tried, folder = q.choose(
        fp32_dir,
        work,
        judge=lambda d: bar.judge(kind.outputs(model(d))),
        speed=speed,
        logits=lambda d: kind.flat(kind.outputs(model(d), 256)),
        calibration=q.calibration_feeds(kind.feeds()),
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
    parity = check_parity(kind, reference, kind.outputs(kind.onnx_class(tmp)), {})
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


# torch.onnx.export, not optimum's exporter: optimum-onnx 0.1.0 (with optimum 2.3.0, the
# newest in the index) does not import under transformers 5.24 (ImportError:
# get_parameter_dtype; benchmarks/bench_libraries.py).
def _to_onnx(pred, path: Path, opset: int) -> None:
    import warnings

    enc = pred.tokenizer(["a probe sentence", "and a second, longer probe sentence"], padding=True)
    names = ["input_ids", "attention_mask"]
    if "token_type_ids" in enc:
        names.append("token_type_ids")
    args = tuple(torch.tensor(enc[n]) for n in names)
    base = pred.model
    if hasattr(base, "merge_and_unload"):  # a PEFT adapter: fold it into the weights first
        base = base.merge_and_unload()
    model = _LogitsOnly(base.float().eval())
    with torch.inference_mode():  # tokens: logits per sub-token, a second dynamic axis
        per_token = model(*args).dim() == 3
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch", 1: "sequence"} if per_token else {0: "batch"}
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


def check_parity(kind, reference, exported, lim: dict) -> dict:
    """Agreement of the labels ``exported`` outputs decide with those of the torch
    ``reference`` (rows; words for tokens), and their logit differences, on the probe."""
    same = kind.decided(reference) == kind.decided(exported)
    if same.ndim > 1:
        same = same.all(axis=1)
    diff = np.abs(kind.flat(reference) - kind.flat(exported))
    res = {
        "n": len(kind.probe),
        "rows": len(kind.probe),
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
