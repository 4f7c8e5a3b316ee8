"""Assistant tests: stand-in predictors that behave like the real ones (a keyword intent
classifier that abstains, a keyword-overlap FAQ retriever, a canned generator), so the policy,
store, server and page are tested in milliseconds; test_build.py uses real tiny runs."""

from __future__ import annotations

import re

import pytest

from tunewise.apps.assist.engine import Assistant
from tunewise.apps.assist.policy import Policy

IN_SCOPE = "my card still has not arrived, where is it?"
FAQ_Q = "How can I get an IVR password for my add-on card?"
OUT_OF_SCOPE = "what is the best recipe for lasagna?"

INTENT_WORDS = {
    "arrived": ("card_arrival", 0.9),
    "limit": ("card_limit", 0.8),
    "stolen": ("lost_or_stolen_card", 0.95),
}
FAQS = [
    (
        "faq-ivr",
        "An IVR password is sent to the registered mobile number.",
        {"ivr", "password", "add-on"},
    ),
    ("faq-arrival", "Cards arrive within 7 working days.", {"arrived", "delivery", "days"}),
    ("faq-limit", "Your daily limit is in the app under Cards.", {"limit", "daily", "app"}),
]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z-]+", text.lower()))


class FakeIntents:
    """Like the classification Predictor with --abstain: nearest label, abstained flag."""

    labels = ["card_arrival", "card_limit", "lost_or_stolen_card"]

    def predict(self, texts):
        out = []
        for t in texts:
            hit = next((v for k, v in INTENT_WORDS.items() if k in words(t)), None)
            label, score = hit or ("card_arrival", 0.2)
            oos = 0.1 if hit else 0.9
            out.append(
                {
                    "label": label,
                    "score": score,
                    "abstained": oos > 0.5,
                    "oos_score": oos,
                    "abstain_threshold": 0.5,
                }  # fmt: skip
            )
        return out


class FakeFaq:
    """Like the RetrievalPredictor: top-k passages (id, text, score), best first."""

    def predict(self, texts, top_k=5):
        out = []
        for t in texts:
            w = words(t)
            scored = [{"id": i, "text": a, "score": len(w & kw) / len(kw)} for i, a, kw in FAQS]
            scored.sort(key=lambda p: -p["score"])
            out.append({"passages": scored[:top_k]})
        return out


class FakeGenerator:
    """Like the sft Generator's ``complete``: replies with a fixed text, prompts recorded."""

    def __init__(self, text: str):
        self.text, self.prompts = text, []

    def complete(self, prompt, max_new_tokens=256, **kw):
        self.prompts.append(prompt)
        return {"text": self.text, "finish_reason": "stop"}


def make_assistant(store=None, generator=None, **policy) -> Assistant:
    p = Policy.model_validate(policy)
    p.faq.threshold = policy.get("faq", {}).get("threshold", 0.6)
    return Assistant(FakeIntents(), FakeFaq(), p, generator=generator, store=store)


@pytest.fixture
def store(tmp_path):
    from tunewise.apps.assist.store import Store

    s = Store(tmp_path / "conversations.db")
    yield s
    s.close()
