"""The assistant's policy (``policy.yaml``): thresholds, FAQ categories per intent, replies
and handoff messages. ``tunewise assist build`` writes it (with the FAQ threshold chosen from
data); the user edits it; every load validates it and names each wrong field at once."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tunewise.errors import UserError

POLICY_FILE = "policy.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IntentPolicy(_Section):
    min_confidence: float = Field(0.0, ge=0.0, le=1.0)
    """An intent that did not abstain is acted on only at this probability or above."""
    replies: dict[str, str] = {}
    """Intent -> the reply when that intent is recognised and no FAQ answer is strong."""
    default_reply: str = (
        "I understand this is about {intent_name}. I can help with that: could you tell me a "
        "little more?"
    )
    """Reply for a recognised intent without its own reply ({intent}, {intent_name})."""
    handoff: list[str] = []
    """Intents that always go to a person (e.g. a lost or stolen card)."""
    categories: dict[str, list[str]] = {}
    """Intent -> the FAQ categories its answers come from (needs faq categories at build)."""


class FaqPolicy(_Section):
    threshold: float = Field(0.5, ge=-1.0, le=1.0)
    """A message no intent is recognised in is answered by its top FAQ match at or above
    this score (build: few out-of-scope questions reach it)."""
    threshold_source: str = "default"
    """How the threshold was chosen (written by build; informative)."""
    over_intent: float = Field(0.8, ge=-1.0, le=1.0)
    """A recognised intent gives way to the top FAQ match only at or above this score (an
    FAQ question may fall in an intent; build: few in-scope dev questions reach it)."""
    over_intent_source: str = "default"
    """How over_intent was chosen (written by build; informative)."""
    top_k: int = Field(5, ge=1, le=100)
    """FAQ candidates retrieved per message (the category filter picks among them)."""


class GroundingPolicy(_Section):
    min_overlap: float = Field(0.5, ge=0.0, le=1.0)
    """A generated reply is sent only when its ROUGE-L F1 with the FAQ answer reaches this;
    otherwise the FAQ answer is sent verbatim."""
    max_new_tokens: int = Field(96, ge=1, le=1024)
    """Longest generated reply, in tokens."""
    prompt: str = (
        "Answer the customer using only the FAQ answer.\nFAQ answer: {faq}\n"
        "Customer: {message}\nReply:"
    )
    """The generator's prompt ({faq}: the retrieved answer, {message}: the customer's)."""


class HandoffPolicy(_Section):
    message: str = (
        "I'm passing you to a colleague who can help with this; they will reply here shortly."
    )
    """Reply when the conversation is handed to a person."""
    still_handed_off: str = "A colleague has your conversation and will reply here shortly."
    """Reply to every later message of a handed-off session."""
    phrases: list[str] = ["speak to a person", "talk to a person", "real person", "human agent"]
    """A message containing one of these (any case) goes to a person."""


class Policy(_Section):
    version: int = 1
    intent: IntentPolicy = IntentPolicy()
    faq: FaqPolicy = FaqPolicy()
    grounding: GroundingPolicy = GroundingPolicy()
    handoff: HandoffPolicy = HandoffPolicy()

    def check_intents(self, labels: list[str], where: str = POLICY_FILE) -> None:
        """Refuse intents the classifier does not know (a typo would silently never fire)."""
        known = set(labels)
        bad = []
        for field, names in (
            ("intent.replies", list(self.intent.replies)),
            ("intent.handoff", self.intent.handoff),
            ("intent.categories", list(self.intent.categories)),
        ):
            bad += [f"{field}: unknown intent {n!r}" for n in names if n not in known]
        if bad:
            some = ", ".join(sorted(known)[:8])
            raise UserError(f"{where}: {'; '.join(bad)} (the classifier knows: {some}, ...)")


def load_policy(path: Path) -> Policy:
    """The validated policy at ``path``; every problem in one line naming its field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: missing; rebuild with `tunewise assist build`") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        why = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}{at}: not valid YAML ({why})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(
            f"{path}: the policy must be a mapping of sections, not {type(raw).__name__}"
        )
    try:
        return Policy.model_validate(raw)
    except ValidationError as e:
        parts = [f"{'.'.join(map(str, x['loc'])) or 'policy'}: {x['msg']}" for x in e.errors()]
        raise UserError(f"{path}: {'; '.join(parts)}") from None


def dump_policy(policy: Policy) -> str:
    """The policy as YAML, with a header saying what it is."""
    head = (
        "# The assistant's policy: edit and restart `tunewise assist serve`.\n"
        "# intent: when a recognised intent is acted on; faq: when an FAQ answer is strong;\n"
        "# grounding: when a generated reply may replace the FAQ text; handoff: to a person.\n"
    )
    return head + yaml.safe_dump(
        policy.model_dump(mode="json"), sort_keys=False, allow_unicode=True
    )
