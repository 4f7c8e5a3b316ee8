"""``tunewise export RUN --out DIR [--merge]``: a plain transformers directory.

With ``--merge`` a LoRA/DoRA/rsLoRA/AdaLoRA/IA3 (or head-only) run becomes one ordinary
``...ForSequenceClassification`` model that ``transformers.pipeline`` loads without peft or
tunewise; without it, a PEFT run exports its adapter + head and a full run its model. The
export is written under a temporary name, reloaded from disk and compared with the run on a
probe set; only when they agree is it moved into place.
"""

from __future__ import annotations

import copy
import shutil
import time
from pathlib import Path

from tunewise.errors import UserError
from tunewise.export.parity import ParityError, compare, compare_predictions, probe_texts
from tunewise.integrity import MANIFEST
from tunewise.outdir import claim, prepare_export_out
from tunewise.rundir import RUN_FILE, RunDir, replace_dir, write_json


def export_hf(
    run: Path,
    out: Path,
    *,
    merge: bool = False,
    probe: Path | None = None,
    probe_rows: int = 256,
    atol: float = 1e-4,
    overwrite: bool = False,
    echo=None,
) -> dict:
    """Export ``run`` to ``out``; returns the export record (also in ``out/export.json`` and
    ``run/exports/<out name>.json``). Raises ParityError when the exported model disagrees."""
    from tunewise.methods import get_method, merge_model
    from tunewise.models.loading import quiet_transformers
    from tunewise.run.api import load
    from tunewise.rundir import ModelMeta, write_meta

    echo = echo or (lambda line: None)
    run, out = Path(run), Path(out)
    if not (run / RUN_FILE).is_file():
        raise UserError(f"{run}: not a tunewise run directory")
    prepare_export_out(out, overwrite)
    source = load(run)
    method = source.meta.get("method") or {"name": "full", "options": {}}
    m = get_method(method["name"])
    tmp = out.with_name(f".{out.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    meta = source.meta.to_dict() if isinstance(source.meta, ModelMeta) else dict(source.meta)
    try:
        if merge or not m.needs_base:
            plain = merge_model(copy.deepcopy(source.model), method) if merge else source.model
            with quiet_transformers():
                plain.save_pretrained(str(tmp))
            meta["method"] = {"name": "full", "options": {}}
            if method["name"] != "full":
                meta["merged_from"] = method
        else:
            for f in RunDir(run).model.iterdir():
                if f.is_file() and f.name != MANIFEST:  # the export's files are its own
                    shutil.copy2(f, tmp / f.name)
        source.tokenizer.save_pretrained(str(tmp))
        write_meta(tmp, ModelMeta.model_validate(meta))

        texts, where = probe_texts(run, source, probe_rows, probe)
        exported = load(tmp)  # from disk, as a user would load it
        if hasattr(source, "parity_outputs"):
            parity = compare(source.parity_outputs(texts), exported.parity_outputs(texts), atol)
        else:  # a task whose predictor offers no raw outputs: its answers must agree
            parity = compare_predictions(source.predict(texts), exported.predict(texts), atol)
        parity["probe"] = where
        record = {
            "format": "hf",
            "run": str(run),
            "out": str(out),
            "merged": bool(merge),
            "method": method,
            "parity": parity,
            "plain_transformers": (tmp / "config.json").is_file()
            and not (tmp / "adapter_config.json").is_file(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (run / "exports").mkdir(exist_ok=True)
        write_json(run / "exports" / f"{out.name}.json", record)
        if not parity["ok"]:
            raise ParityError(
                f"export parity failed: {parity['message']} on {parity['rows']} probe rows "
                f"({where}); nothing written to {out} (record in {run}/exports/{out.name}.json)"
            )
        write_json(tmp / "export.json", record)
        claim(tmp, "export")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    out.parent.mkdir(parents=True, exist_ok=True)
    replace_dir(tmp, out)
    echo(f"parity: {parity['message']} on {where}")
    return record
