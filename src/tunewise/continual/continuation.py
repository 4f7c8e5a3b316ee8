"""``tunewise train --continue-from RUN --strategy S``: continue a finished classification run
on new data. The runner does the training; this object, passed as its ``continuation``, keeps
the parent's label map (extended with the new labels), starts from the parent's weights, adds
what the strategy trains on (a replay memory, every earlier row, an EWC penalty) and, before
the run is finished, scores the model on every test set of the lineage."""

from __future__ import annotations

from pathlib import Path

from tunewise.continual import ewc
from tunewise.continual.lineage import (
    FISHER_FILE,
    MEMORY_FILE,
    ROUTER_FILE,
    STAGE_FILE,
    continual_dir,
    entry,
    lineage_of,
    method_of,
    model_labels,
    require_parent,
    stage_record,
)
from tunewise.continual.memory import (
    balanced_sample,
    budget,
    check_mix,
    load_memory,
    mixed,
    parse_size,
    save_memory,
)
from tunewise.errors import UserError
from tunewise.rundir import read_meta, write_json

STRATEGIES = ("naive", "replay", "ewc", "lora-per-task", "joint")
LORA_FAMILY = ("lora", "rslora", "dora")


def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise UserError(f"--strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    return strategy


class Continuation:
    """The runner's hooks for one continued stage (see ``tunewise.run.runner.train``)."""

    def __init__(
        self, parent, strategy="naive", replay=None, ewc_lambda=None, echo=None, replay_mix=None
    ):
        self.parent = Path(parent).resolve()
        require_parent(self.parent)
        self.strategy = check_strategy(strategy)
        self.replay_spec = str(replay) if replay is not None else None
        if self.replay_spec is not None and strategy != "replay":
            raise UserError(f"--replay is the size of the replay memory; --strategy is {strategy}")
        if replay_mix is not None and strategy != "replay":
            raise UserError(
                f"--replay-mix is the replay memory's share of the rows; --strategy is {strategy}"
            )
        self.replay_mix = check_mix(replay_mix)
        parse_size(self.replay_spec)  # a bad size is refused before any work
        self.ewc_lambda = float(ewc.DEFAULT_LAMBDA if ewc_lambda is None else ewc_lambda)
        if ewc_lambda is not None and strategy != "ewc":
            raise UserError(
                f"--ewc-lambda is the weight of the EWC penalty; --strategy is {strategy}"
            )
        if self.ewc_lambda < 0:
            raise UserError("--ewc-lambda must be 0 or more")
        self.echo = echo or (lambda line: None)
        self.lineage = lineage_of(self.parent)
        self.parent_stage = stage_record(self.parent)
        self.parent_labels = model_labels(self.parent)
        self.parent_meta = read_meta(self.parent / "model")
        parent_strategy = (self.parent_stage or {}).get("strategy")
        if parent_strategy == "lora-per-task" and strategy != "lora-per-task":
            raise UserError(
                f"{parent}: a lora-per-task stage (one adapter per task on a frozen base) "
                f"continues only with --strategy lora-per-task, not {strategy}"
            )
        if strategy != "lora-per-task" and method_of(self.parent) != "full":
            raise UserError(
                f"{parent}: trained with --method {method_of(self.parent)}; --strategy "
                f"{strategy} continues a full fine-tune (use --strategy lora-per-task)"
            )
        self.run = None
        self.added: list[int] = []
        self.own: dict = {}
        self.fisher = self.anchor = None

    # -- settings -----------------------------------------------------------------------------
    def settings(self) -> dict:
        return {
            "parent": str(self.parent),
            "strategy": self.strategy,
            "replay": self.replay_spec,
            "replay_mix": self.replay_mix if self.strategy == "replay" else None,
            "ewc_lambda": self.ewc_lambda,
        }

    def configure(self, cfg) -> None:
        """The parent's base model and input length; LoRA for lora-per-task."""
        from tunewise.config import MethodConfig

        base = self.parent_meta.base_model
        if "name" in cfg.model.model_fields_set and cfg.model.name != base:
            raise UserError(
                f"--model {cfg.model.name}: {self.parent} was trained from {base}; "
                "a continued run keeps its parent's model (leave --model out)"
            )
        cfg.model.name = base
        if cfg.data.test is None:
            raise UserError(
                "--continue-from needs --test: every stage's test set is scored again after each "
                "later stage (the forgetting matrix)"
            )
        if "max_length" not in cfg.model.model_fields_set:
            cfg.model.max_length = int(self.parent_meta.max_length)
        if cfg.train.seeds > 1:
            raise UserError(
                "--seeds with --continue-from: run `tunewise continual --seeds` instead"
            )
        self._inherit_abstention(cfg)
        if cfg.task.head_init == "probe":
            raise UserError(
                "task.head_init=probe with --continue-from: a continued run keeps its parent's "
                "head (the earlier classes' rows); leave head_init out"
            )
        cfg.task.head_init = "random"  # never re-fit the parent's head ("auto" included)
        if self.strategy == "lora-per-task":
            if "name" not in cfg.method.model_fields_set:
                cfg.method = MethodConfig(name="lora")
            elif cfg.method.name not in LORA_FAMILY:
                raise UserError(
                    f"--strategy lora-per-task trains one adapter per task; --method "
                    f"{cfg.method.name} is not one of {', '.join(LORA_FAMILY)}"
                )
        elif "name" in cfg.method.model_fields_set and cfg.method.name != "full":
            raise UserError(
                f"--strategy {self.strategy} continues every weight of the parent; "
                f"--method {cfg.method.name} needs --strategy lora-per-task"
            )

    def _inherit_abstention(self, cfg) -> None:
        """A parent that abstains on out-of-scope inputs (``--abstain``) has a continued model
        that does too (its threshold chosen again on the new dev), with the parent's
        out-of-scope label and target, unless this stage says otherwise (``--no-abstain``,
        its own ``--oos-label`` or target)."""
        parent = self.parent_meta.get("abstain")
        t = cfg.task
        if not parent or "abstain" in t.model_fields_set or "oos_label" in t.model_fields_set:
            return
        t.abstain = True
        if parent.get("oos_label") is not None:
            t.oos_label = parent["oos_label"]
        if "abstain_target" not in t.model_fields_set and parent.get("target"):
            t.abstain_target = parent["target"]
        self.echo(
            f"abstention inherited from {self.parent.name} (target {t.abstain_target}"
            + (f", out-of-scope label {t.oos_label!r}" if t.oos_label is not None else "")
            + "; --no-abstain turns it off)"
        )

    # -- the runner's hooks -------------------------------------------------------------------
    def start(self, run) -> None:
        self.run = run
        # the earlier stages and their data (this run's own data is in its config.yaml)
        chain = [{k: e[k] for k in ("run", "task", "train", "test")} for e in self.lineage]
        run.set_status("running", parent=str(self.parent), lineage=chain, continual=self.settings())

    def adjust(self, data) -> None:
        own_labels = list(data.info["labels"])
        self.own = {"labels": own_labels, "rows": len(data.train), "train_rows": list(data.train)}
        record: dict = {
            "parent": str(self.parent),
            "strategy": self.strategy,
            "own_labels": own_labels,
        }
        if self.strategy != "lora-per-task":
            added = [label for label in own_labels if label not in self.parent_labels]
            data.info["labels"] = self.parent_labels + added
            record["labels_added"] = added
        seed = self._seed()
        if self.strategy == "replay":
            pool = self._earlier_pool()
            n = budget(self.replay_spec, self._earlier_rows(pool))
            self.own["replayed"] = balanced_sample(pool, n, seed)
            repeated, times = mixed(data.train, self.own["replayed"], self.replay_mix)
            data.train = list(data.train) + repeated
            record["replayed_rows"] = len(self.own["replayed"])
            record["replay"] = self.replay_spec or "20%"
            record["replay_mix"] = self.replay_mix
            record["replay_times"] = times
        elif self.strategy == "joint":
            earlier = [r for e in self.lineage for r in self._train_rows(e)]
            data.train = list(data.train) + earlier
            record["earlier_rows"] = len(earlier)
        data.info["continual"] = record
        self.echo(
            f"continuing {self.parent.name} ({self.strategy}): "
            + ", ".join(
                f"{k} {v}"
                for k, v in record.items()
                if k in ("labels_added", "replayed_rows", "replay_times", "earlier_rows")
            )
        )

    def load_model(self, cfg, task, tokenizer):
        from transformers import set_seed

        from tunewise.continual.head import extend_head
        from tunewise.models.decoder import ensure_pad_token
        from tunewise.models.loading import quiet_transformers
        from tunewise.run.fit import load_model

        if self.strategy == "lora-per-task":
            return load_model(cfg, task, tokenizer)  # the frozen base, a fresh head for this task
        set_seed(cfg.train.seed)
        with quiet_transformers():
            model = task.auto_model().from_pretrained(str(self.parent / "model"))
        ensure_pad_token(tokenizer, model)
        task.prepare_model(model)
        if self.strategy == "ewc":
            self._fisher(model, task, tokenizer, cfg)
        added = extend_head(model, self.parent_labels, task.labels)
        self.added = added
        if added:
            self.echo(
                f"head: {len(self.parent_labels)} rows kept, {len(added)} added (mean of the old rows, plus noise)"
            )
        return model

    def before_training(self, model, task, train, pad_id) -> dict:
        """The added head rows' biases set to the new classes' share of the training rows
        (``head.match_prior``); recorded in the run's metrics (``continual.head``)."""
        from tunewise.continual.head import match_prior

        if not getattr(self, "added", None):
            return {}
        done = match_prior(model, task, train, self.added, pad_id)
        if done:
            self.echo(
                f"head: new rows' bias offset {done['bias_offset']:+.2f} (new classes' "
                f"probability on the training rows {done['new_mass_before']:.3f} -> "
                f"{done['new_share_in_train']:.3f}, their share of the rows)"
            )
        return {"continual_head": done} if done else {}

    def extra_loss(self, model):
        if self.strategy != "ewc" or self.fisher is None:
            return None
        return ewc.penalty(model, self.fisher, self.anchor, self.ewc_lambda)

    def after_evaluate(self, f, metrics: dict) -> None:
        from tunewise.continual.scoring import score_model

        if not f.main:
            return
        cfg = f.cfg
        own = entry(
            self.run.path,
            cfg.data.model_dump(mode="json"),
            self.own["labels"],
            self.own["rows"],
            self.strategy,
            oos_label=cfg.task.oos_label,
        )
        entries = self.lineage + [own]
        out = continual_dir(self.run.path)
        out.mkdir(parents=True, exist_ok=True)
        record: dict = {**self.settings(), "lineage": entries}
        self.echo(f"scoring on the {len(entries)} test sets of the lineage")
        if self.strategy == "lora-per-task":
            record.update(self._experts(entries, out))
        else:
            record["row"] = score_model(self.run.model, entries)
        record["before"] = score_model(self.parent, [own])[0]
        if self.parent_stage is not None:
            record["parent_row"] = self.parent_stage["row"]
        else:
            record["parent_row"] = score_model(self.parent, self.lineage)
        if self.strategy == "replay":
            mem = self.own["replayed"] + self.own["train_rows"]
            n = budget(self.replay_spec, self._earlier_rows(mem, with_own=True))
            kept = balanced_sample(mem, n, self._seed())
            save_memory(out / MEMORY_FILE, kept)
            record["memory_rows"] = len(kept)
        if self.strategy == "ewc" and self.fisher is not None:
            ewc.save_fisher(out / FISHER_FILE, self.fisher)
        write_json(out / STAGE_FILE, record)
        from tunewise.continual.forgetting import forgetting

        try:
            f_rec = forgetting(self.run.path)  # the report's heatmap and measures
        except UserError as e:  # an earlier stage's run gone: the row above is still scored
            self.echo(f"forgetting matrix not in the report: {e}")
            f_rec = {}
        metrics["continual"] = {
            "forgetting": {
                k: f_rec[k]
                for k in ("tests", "stages", "matrix", "matrix_task_given", "task_given")
                + ("average_accuracy", "bwt", "forgetting", "fwt", "router", "n_bootstrap")
                if k in f_rec
            },
            "strategy": self.strategy,
            "parent": str(self.parent),
            **(
                {"head": f.extras["continual_head"]} if "continual_head" in (f.extras or {}) else {}
            ),
            "tests": [
                {k: c[k] for k in ("task", "n", "accuracy", "accuracy_task_given")}
                for c in record["row"]
            ],
            **({"router": record["router"]} if "router" in record else {}),
        }
        for c in record["row"]:
            self.echo(
                f"  {c['task']}: accuracy {c['accuracy']:.3f} (task given {c['accuracy_task_given']:.3f}, n {c['n']})"
            )
        if "router" in record:
            self.echo(f"  router accuracy {record['router']['accuracy']:.3f}")

    # -- helpers ------------------------------------------------------------------------------
    def _seed(self) -> int:
        import yaml

        cfg = yaml.safe_load(self.run.config.read_text()) if self.run else {}
        return int(((cfg or {}).get("train") or {}).get("seed", 42))

    def _train_rows(self, e: dict) -> list:
        from tunewise.continual.scoring import read_train

        return read_train(e)

    def _earlier_pool(self) -> list:
        """The replay memory the parent saved; else every earlier stage's training rows."""
        mem = continual_dir(self.parent) / MEMORY_FILE
        if mem.is_file():
            return load_memory(mem)
        return [r for e in self.lineage for r in self._train_rows(e)]

    def _earlier_rows(self, fallback: list, with_own: bool = False) -> int:
        """Training rows of the earlier stages (and of this one), as recorded; the size of
        ``fallback`` when a stage did not record its count."""
        rows = [e.get("rows") for e in self.lineage] + ([self.own["rows"]] if with_own else [])
        return sum(rows) if all(r is not None for r in rows) else len(fallback)

    def _fisher(self, model, task, tokenizer, cfg) -> None:
        """The Fisher of the parent on its own task's training rows, plus the Fisher the parent
        was held to; the anchor is the parent's weights."""
        rows = balanced_sample(self._train_rows(self.lineage[-1]), ewc.FISHER_ROWS, cfg.train.seed)
        parent_task = type(task)(self.parent_labels)
        enc = parent_task.encode(rows, tokenizer, cfg.model.max_length)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.echo(
            f"ewc: Fisher information of {self.parent.name} on {len(rows)} of its training rows"
        )
        fisher = ewc.normalise(ewc.fisher_diagonal(model, parent_task, enc, pad))
        prev = continual_dir(self.parent) / FISHER_FILE
        self.fisher = ewc.combine(ewc.load_fisher(prev) if prev.is_file() else None, fisher)
        self.anchor = {n: p.detach().clone() for n, p in model.named_parameters()}
        model.train()

    def _experts(self, entries: list[dict], out: Path) -> dict:
        from tunewise.continual.router import ROWS_PER_TASK, Router
        from tunewise.continual.scoring import score_experts

        # the earlier tasks' models: the parent's experts, else the parent itself for each
        # earlier task (a model trained from scratch, or a stage of another strategy)
        experts = list((self.parent_stage or {}).get("experts") or []) or [
            {"run": str(self.parent), "task": e["task"]} for e in self.lineage
        ]
        experts.append({"run": str(self.run.path / "model"), "task": entries[-1]["task"]})
        seed = self._seed()
        texts = []
        for e in entries[:-1]:
            texts.append(
                [r.text for r in balanced_sample(self._train_rows(e), ROWS_PER_TASK, seed)]
            )
        texts.append([r.text for r in balanced_sample(self.own["train_rows"], ROWS_PER_TASK, seed)])
        self.echo(f"router: logistic regression on base embeddings, {sum(map(len, texts))} rows")
        router = Router.fit(
            self.parent_meta.base_model_path, texts, [e["task"] for e in entries], seed
        )
        router.save(out / ROUTER_FILE)
        row, acc = score_experts(experts, router, entries)
        return {"experts": experts, "row": row, "router": acc}


def continue_train(
    cfg,
    parent,
    strategy="naive",
    replay=None,
    ewc_lambda=None,
    overwrite=False,
    echo=None,
    replay_mix=None,
):
    """Train ``cfg`` (the new data) continuing the finished run ``parent`` with ``strategy``."""
    from tunewise.run.runner import train

    c = Continuation(parent, strategy, replay, ewc_lambda, echo, replay_mix)
    c.configure(cfg)
    return train(cfg, overwrite=overwrite, echo=echo, continuation=c)


def resume_continued(run_path, echo=None):
    """Resume an interrupted continued run with the settings its run.json recorded; None when
    the run was not a continued one."""
    from tunewise.run.runner import train
    from tunewise.rundir import RunDir

    s = RunDir(run_path).info().get("continual")
    if not s:
        return None
    c = Continuation(
        s["parent"],
        s["strategy"],
        s.get("replay"),
        s.get("ewc_lambda") if s["strategy"] == "ewc" else None,
        echo,
        s.get("replay_mix") if s["strategy"] == "replay" else None,
    )
    return train(None, resume=run_path, echo=echo, continuation=c)
