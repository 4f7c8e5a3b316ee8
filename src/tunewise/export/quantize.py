"""int8 recipes for an ONNX export, judged on the model's quality and timed on this CPU.

An int8 export is good when it keeps the model's quality, not when it reproduces every label:
on ordinary runs, an int8 model that flips 1% of the dev labels (both ways) often has the same
dev accuracy as fp32, and demanding 99.5% label agreement failed such exports (SST-2 and TREC
runs, issue #21). So :func:`choose` builds candidate recipes, judges each with ``judge``
(the task's headline metric on the run's dev rows against fp32, see :class:`QualityBar`),
times each passing one here, and keeps the fastest that passes:

- ``dynamic``: weights int8 per channel, activations quantized on the fly per tensor
  (ONNX Runtime ``quantize_dynamic``; MatMulInteger kernels, VNNI/AMX where the CPU has them);
- ``static``: QDQ, weights int8 per channel, activation scales calibrated on the run's dev
  rows (``quantize_static``, MinMax), no quantization work left at run time.

When neither passes with every MatMul in int8, per-layer sensitivity decides which layers stay
fp32: each group of MatMuls (a layer's attention, its feed-forward up- and down-projection) is
quantized alone and ranked by how far it moves the logits; the most sensitive groups go back
to fp32, 1, 2, 4 ... at a time, until the bar holds.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DYNAMIC, STATIC = "dynamic", "static"
# on the probe's gold labels (the run's dev rows) the task's headline metric may drop by at
# most its kind's ``max_drop`` (classification 0.3 points, entity F1 0.5), or by one row (one
# entity) when the probe is too small to see that; without labels, 99.5% of the labels must
# agree with fp32 (the only thing left to compare)
INT8_BAR = {"agreement_without_labels": 0.995}


def cpu_int8() -> dict:
    """The int8 dot-product units of this CPU (from /proc/cpuinfo; empty elsewhere)."""
    try:
        flags = set(
            next(line for line in open("/proc/cpuinfo") if line.startswith("flags"))
            .split(":", 1)[1]
            .split()
        )
    except (OSError, StopIteration):
        flags = set()
    return {f: f in flags for f in ("avx2", "avx512_vnni", "avx_vnni", "amx_int8")}


def has_vnni(flags: dict | None = None) -> bool:
    flags = cpu_int8() if flags is None else flags
    return bool(flags.get("avx512_vnni") or flags.get("avx_vnni") or flags.get("amx_int8"))


@dataclass
class Recipe:
    family: str  # DYNAMIC or STATIC
    fp32_groups: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        if not self.fp32_groups:
            return f"{self.family} int8, every MatMul"
        return (
            f"{self.family} int8, the {len(self.fp32_groups)} most sensitive MatMul groups fp32 "
            f"({', '.join(self.fp32_groups)})"
        )


def matmul_groups(model: Path) -> dict[str, list[str]]:
    """MatMul node names by group: ``layer.3/attention``, ``layer.3/ffn-up``,
    ``layer.3/ffn-down``, else ``other`` (embeddings, pooler, head)."""
    import onnx

    groups: dict[str, list[str]] = {}
    for node in onnx.load(str(model), load_external_data=False).graph.node:
        if node.op_type != "MatMul":
            continue
        m = re.search(r"layers?[._/](\d+)", node.name)
        if not m:
            key = "other"
        elif "/attention/" in node.name:
            key = f"layer.{m.group(1)}/attention"
        elif "/intermediate/" in node.name:
            key = f"layer.{m.group(1)}/ffn-up"
        else:
            key = f"layer.{m.group(1)}/ffn-down"
        groups.setdefault(key, []).append(node.name)
    return groups


def build(
    recipe: Recipe,
    fp32: Path,
    dst: Path,
    groups: dict[str, list[str]],
    calibration: list[dict],
    vnni: bool,
    only: list[str] | None = None,
) -> None:
    """Write ``fp32`` quantized by ``recipe`` to ``dst`` (``only``: quantize just these nodes)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    exclude = [n for g in recipe.fp32_groups for n in groups.get(g, [])]
    common = dict(
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude,
        nodes_to_quantize=only,
        op_types_to_quantize=["MatMul"],
        # without VNNI, u8 x s8 products are summed in int16 pairs that can saturate: 7-bit
        # weights avoid it (measured on an AVX2 machine: label agreement 98.90% -> 99.18%)
        reduce_range=not vnni,
    )
    fp32, dst = Path(fp32).resolve(), Path(dst).resolve()
    with _quiet_root_logger(), _scratch_cwd():
        if recipe.family == DYNAMIC:
            quantize_dynamic(str(fp32), str(dst), **common)
            return

        class Feeds(CalibrationDataReader):
            def __init__(self):
                self.it = iter(calibration)

            def get_next(self):
                return next(self.it, None)

        quantize_static(
            str(fp32),
            str(dst),
            Feeds(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            calibrate_method=CalibrationMethod.MinMax,
            **common,
        )


def calibration_feeds(feeds: list[dict], length: int = 64) -> list[dict]:
    """The dev batches as calibration input, every batch padded/cut to one length (ONNX
    Runtime's calibrator stacks the activations of all batches)."""
    out = []
    for f in feeds:
        out.append(
            {
                k: np.pad(v[:, :length], ((0, 0), (0, length - min(length, v.shape[1]))))
                for k, v in f.items()
            }
        )
    return out


def choose(
    fp32: Path,
    workdir: Path,
    judge: Callable[[Path], dict],
    speed: Callable[[Path], float],
    logits: Callable[[Path], np.ndarray],
    calibration: list[dict],
    on_build: Callable[[Recipe, Path], None] | None = None,
) -> tuple[Recipe | None, list[dict], Path | None]:
    """Try recipes, keep the fastest that passes ``judge``.

    Args:
        judge: quality of a quantized model file's folder: ``{"ok", ...}``.
        speed: texts per second of a model folder on the probe (higher is faster).
        logits: the probe logits of a model folder (for sensitivity).
        on_build: called with each recipe and its folder once built (tests).
    Returns:
        ``(recipe or None, tried, folder of the chosen model or None)``.
    """
    vnni = has_vnni()
    groups = matmul_groups(fp32 / "model.onnx")
    tried: list[dict] = []
    passing: list[tuple[float, Recipe, Path]] = []

    def attempt(recipe: Recipe) -> bool:
        d = workdir / f"cand-{len(tried)}"
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(fp32, d, ignore=shutil.ignore_patterns("model.onnx"))
        t0 = time.perf_counter()
        build(recipe, fp32 / "model.onnx", d / "model.onnx", groups, calibration, vnni)
        row = {"recipe": recipe.name, "family": recipe.family, "fp32_groups": recipe.fp32_groups}
        row["build_s"] = round(time.perf_counter() - t0, 1)
        if on_build:
            on_build(recipe, d)
        q = judge(d)
        row.update({k: v for k, v in q.items() if k != "ok"}, ok=q["ok"])
        if q["ok"]:
            row["texts_per_s"] = round(speed(d), 1)
            passing.append((row["texts_per_s"], recipe, d))
        tried.append(row)
        return q["ok"]

    first = [Recipe(DYNAMIC), Recipe(STATIC)]
    for r in first:
        attempt(r)
    if not passing:
        ranking = sensitivity(fp32, workdir, groups, logits, calibration, vnni)
        for family in (DYNAMIC, STATIC):
            k = 1
            while k < len(ranking):
                if attempt(Recipe(family, ranking[:k])):
                    break
                k *= 2
    if not passing:
        return None, tried, None
    _, recipe, folder = max(passing, key=lambda p: p[0])
    return recipe, tried, folder


def sensitivity(
    fp32: Path,
    workdir: Path,
    groups: dict[str, list[str]],
    logits: Callable[[Path], np.ndarray],
    calibration: list[dict],
    vnni: bool,
) -> list[str]:
    """Groups ordered from the most to the least sensitive: each quantized alone (dynamic),
    scored by the mean squared change of the probe logits."""
    ref = logits(fp32)
    scores = {}
    d = workdir / "sensitivity"
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(fp32, d, ignore=shutil.ignore_patterns("model.onnx"))
    for g, nodes in groups.items():
        build(Recipe(DYNAMIC), fp32 / "model.onnx", d / "model.onnx", groups, [], vnni, nodes)
        scores[g] = float(np.mean((logits(d) - ref) ** 2))
    shutil.rmtree(d, ignore_errors=True)
    return sorted(scores, key=lambda g: -scores[g])


class QualityBar:
    """Is an int8 model as good as fp32 on the probe? The task's headline metric on the probe's
    gold labels (``kind``: accuracy, entity F1 ...) may drop by at most ``kind.max_drop`` (or
    one row of a small probe); the paired bootstrap interval of the change and the label
    agreement are reported. Without gold labels, only agreement is left to compare."""

    def __init__(self, kind, reference):
        self.kind, self.reference = kind, reference
        self.ref = kind.score(reference) if kind.y is not None else None

    def judge(self, out) -> dict:
        kind = self.kind
        same = kind.decided(self.reference) == kind.decided(out)
        if same.ndim > 1:
            same = same.all(axis=1)
        agreement = round(float(same.mean()), 6)
        if self.ref is None:
            bar = INT8_BAR["agreement_without_labels"]
            return {
                "ok": agreement >= bar,
                "label_agreement": agreement,
                "quality": None,
                "message": f"{agreement:.2%} of the labels agree with fp32 (no labels to score; "
                f"bar {bar:.1%})",
            }
        n = len(kind.y)
        allowed = max(kind.max_drop, kind.smallest_step())
        value = kind.score(out)
        delta = value - self.ref
        quality = {
            "metric": kind.metric,
            "fp32": round(self.ref, 6),
            "int8": round(value, 6),
            "delta": round(delta, 6),
            "allowed_drop": round(allowed, 6),
            "rows": n,
        }
        ci = kind.delta_ci(self.reference, out)
        if ci is not None:
            quality["delta_ci95"] = ci
        shown = f", 95% CI [{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]" if ci else ""
        return {
            "ok": delta >= -allowed - 1e-12,
            "label_agreement": agreement,
            "delta": delta,
            "quality": quality,
            "message": f"{kind.metric} {value:.4f} vs fp32 {self.ref:.4f} ({100 * delta:+.2f} "
            f"points{shown}; bar: at most {100 * allowed:.2f} points lower) on {n} rows; "
            f"{agreement:.2%} of the labels agree",
        }


class _scratch_cwd:
    # when its symbolic shape inference is incomplete, onnxruntime saves
    # sym_shape_infer_temp.onnx into the working directory: keep that out of the user's folder
    def __enter__(self):
        import os
        import tempfile

        self.old = os.getcwd()
        self.tmp = tempfile.TemporaryDirectory(prefix="tunewise-quantize-")
        os.chdir(self.tmp.name)

    def __exit__(self, *exc):
        import os

        os.chdir(self.old)
        self.tmp.cleanup()


class _quiet_root_logger:
    # onnxruntime.quantization logs a pre-processing suggestion on the root logger
    def __enter__(self):
        import logging

        self.root = logging.getLogger()
        self.level = self.root.level
        self.root.setLevel(logging.ERROR)

    def __exit__(self, *exc):
        self.root.setLevel(self.level)
