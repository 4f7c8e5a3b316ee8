"""Several adapter runs on one base model, in one process: the base is loaded once.

Served runs whose method ``shares_base`` (LoRA family, AdaLoRA, IA3), of one task, over the
same base model path and of one peft type, are grouped. Each group loads its base once and
attaches every run's adapter (with the run's own head, which peft keeps per adapter) under a
name of its own; each run keeps its own predictor (tokenizer, labels, decoding). A forward pass
runs under the group's lock with its run's adapter active, so batches of two adapters never
run at once, however many threads the batchers use.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from pathlib import Path

from tunewise.rundir import META_FILE, RUN_FILE, RunDir
from tunewise.serve.registry import Served, parse_spec


class SharedBase:
    """One loaded base model and the adapters attached to it."""

    def __init__(self, base: str):
        self.base = base
        self.model = None  # the peft model holding every adapter, once the first is attached
        self.lock = threading.Lock()
        self.active: str | None = None
        self.adapters: list[str] = []

    def loader(self, adapter: str):
        """A stand-in for ``load_trained`` (the predictors' ``loader``) attaching the run's
        adapter here as ``adapter``; it returns that adapter's view of the shared model."""
        from tunewise.methods import attach_trained

        def load(model_dir, load_fn, task, meta=None):
            self.model = attach_trained(self.model, adapter, model_dir, load_fn, task, meta)
            self.adapters.append(adapter)
            return AdapterView(self, adapter)

        return load


class AdapterView:
    """The shared model as one run sees it: a call is a forward pass with its adapter active."""

    def __init__(self, shared: SharedBase, adapter: str):
        self.shared, self.adapter = shared, adapter

    def __call__(self, **batch):
        s = self.shared
        with s.lock:  # the active adapter is state of the one model: one pass at a time
            if s.active != self.adapter:
                s.model.set_adapter(self.adapter, inference_mode=True)
                s.active = self.adapter
            return s.model(**batch)

    def eval(self):
        self.shared.model.eval()
        return self


def share_key(path: Path, backend: str) -> tuple | None:
    """What a run must have in common with others to share their base: (task, base path, peft
    type); None when it loads on its own (an export, another method, an adapter that also
    changes the base's biases)."""
    from tunewise.export.onnx_predictor import ONNX_FILE
    from tunewise.methods import get_method
    from tunewise.methods.api import base_model_path
    from tunewise.tasks import get_task

    model_dir = RunDir(path).model if (path / RUN_FILE).is_file() else path
    meta_file, peft_file = model_dir / META_FILE, model_dir / "adapter_config.json"
    if backend == "onnx" or (backend == "auto" and (path / ONNX_FILE).is_file()):
        return None
    if not (meta_file.is_file() and peft_file.is_file()):
        return None
    try:
        meta, peft = json.loads(meta_file.read_text()), json.loads(peft_file.read_text())
        task = get_task(meta.get("task") or "classification")
        method = get_method((meta.get("method") or {}).get("name", "full"))
        base = base_model_path(meta)
    except Exception:  # loading it on its own reports what is wrong
        return None
    shares = task.route is not None and not task.route.generation  # a head on a shared base
    if not shares or not method.shares_base or peft.get("bias", "none") != "none":
        return None
    task = task.name
    base = str(Path(base).resolve()) if Path(base).exists() else base
    return task, base, peft.get("peft_type")


def load_all(specs: list[str], backend: str = "auto", batch_size: int = 32, **kw) -> list[Served]:
    """Load every ``[name=]path`` in ``specs`` (in order); adapter runs over one base share it.

    Args:
        kw: passed on to :func:`tunewise.serve.registry.load_served` for the others.
    """
    from tunewise.errors import UserError
    from tunewise.serve.registry import load_served
    from tunewise.tasks import get_task

    named = [parse_spec(s) for s in specs]
    names = [n for n, _ in named]
    if len(set(names)) != len(names):
        raise UserError(f"two served models share a name ({names}); name them with NAME=PATH")
    keys = [share_key(p, backend) if p.is_dir() else None for _, p in named]
    count = Counter(k for k in keys if k is not None)
    groups = {k: SharedBase(k[1]) for k, n in count.items() if n > 1}
    out = []
    for i, (spec, (name, path), key) in enumerate(zip(specs, named, keys)):
        if key not in groups:
            out.append(load_served(spec, backend=backend, batch_size=batch_size, **kw))
            if key is not None:  # an adapter alone on its base
                out[-1].extra |= {"adapter": True, "base": key[1], "shares_base_with": []}
            continue
        task, shared = key[0], groups[key]
        # peft keeps adapters in module dicts: a served name may hold dots or clash
        loader = shared.loader(f"a{i}_" + re.sub(r"\W", "_", name))
        model = get_task(task).predictor(path, batch_size=batch_size, loader=loader)
        out.append(Served(name, task, model, "torch", str(path), {"shared": shared}))
    for s in out:
        if "shared" in s.extra:
            s.extra |= {
                "adapter": True,
                "base": s.extra["shared"].base,
                "shares_base_with": [
                    o.name for o in out if o is not s and o.extra.get("shared") is s.extra["shared"]
                ],
            }
    return out


def shared_bases(served: list[Served]) -> list[tuple[str, list[str]]]:
    """(base, names of the models sharing it) for every base loaded once for several."""
    out: dict[int, tuple[str, list[str]]] = {}
    for s in served:
        if (shared := s.extra.get("shared")) is not None:
            out.setdefault(id(shared), (shared.base, []))[1].append(s.name)
    return list(out.values())
