"""One message of a session, answered: intent (with abstention), FAQ match, grounded reply,
or a handoff to a person, decided by the policy. ``decide`` is the policy alone (pure);
``Assistant`` runs the models, keeps the session in the store and logs the turn."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tunewise.apps.assist.policy import Policy


@dataclass
class Session:
    """What the server keeps per session id between turns."""

    id: str
    turns: int = 0
    last_intent: str | None = None
    handed_off: bool = False
    handoff_reason: str | None = None


@dataclass
class Decision:
    decision: str  # "intent", "faq" or "handoff"
    reply: str
    reason: str
    faq: dict | None
    handoff: bool = False
    extra: dict = field(default_factory=dict)


def pick_faq(passages: list[dict], intent: str | None, policy: Policy, categories: dict) -> dict:
    """The FAQ passage to answer with: the best one of the intent's categories when the
    policy maps the intent and that one is strong; else the best overall."""
    best = passages[0]
    wanted = policy.intent.categories.get(intent or "") if intent else None
    if wanted and categories:
        inside = [p for p in passages if categories.get(p["id"]) in wanted]
        if inside and inside[0]["score"] >= policy.faq.threshold:
            return inside[0]
    return best


def _in_categories(faq: dict | None, intent: str, policy: Policy, categories: dict) -> bool:
    wanted = policy.intent.categories.get(intent)
    return bool(faq and wanted and categories.get(faq["id"]) in wanted)


def humanize(intent: str) -> str:
    return intent.replace("_", " ").replace("-", " ")


def decide(
    message: str,
    intent: dict,
    passages: list[dict],
    session: Session,
    policy: Policy,
    categories: dict | None = None,
) -> Decision:
    """What to do with a message, from the classifier's answer (``label``, ``score``,
    ``abstained``, ``oos_score``, ``abstain_threshold``) and the FAQ candidates (best first).

    A strong FAQ match answers (an FAQ question may fall in a banking intent or outside all
    of them): at ``faq.threshold`` when no intent is recognised, at ``faq.over_intent`` when
    one is (unless the answer is of the intent's FAQ categories); else a recognised intent
    answers with its reply; else the message goes to a person, as does a handed-off session.
    """
    label = intent.get("label")
    confidence = float(intent.get("score") or 0.0)
    abstained = bool(intent.get("abstained", False))
    recognised = not abstained and confidence >= policy.intent.min_confidence
    faq = (
        pick_faq(passages, label if recognised else None, policy, categories or {})
        if passages
        else None
    )
    h = policy.handoff
    if session.handed_off:
        return Decision(
            "handoff",
            h.still_handed_off,
            f"session already handed off ({session.handoff_reason})",
            faq,
            True,
        )
    low = message.lower()
    asked = next((p for p in h.phrases if p.lower() in low), None)
    if asked:
        return Decision("handoff", h.message, f"customer asked for a person ({asked!r})", faq, True)
    if recognised and label in policy.intent.handoff:
        return Decision(
            "handoff", h.message, f"intent {label!r} always goes to a person (policy)", faq, True
        )
    # a recognised intent gives way only to a match at ``over_intent``, unless the policy
    # maps the intent to the FAQ categories this answer comes from
    t = policy.faq.threshold
    if recognised and not _in_categories(faq, label, policy, categories or {}):
        t = max(t, policy.faq.over_intent)
    if faq is not None and faq["score"] >= t:
        return Decision(
            "faq",
            faq["text"],
            f"FAQ {faq['id']} matches (score {faq['score']:.3f} >= {t:.3f})",
            faq,
        )
    weak = f"FAQ match weak (score {faq['score']:.3f} < {t:.3f})" if faq is not None else "no FAQ"
    if recognised:
        reply = policy.intent.replies.get(label) or policy.intent.default_reply
        reply = reply.replace("{intent_name}", humanize(label)).replace("{intent}", label)
        return Decision(
            "intent",
            reply,
            f"intent {label!r} recognised (confidence {confidence:.3f}); {weak}",
            faq,
        )
    if abstained:
        why = (
            f"intent abstained (out-of-scope score {float(intent.get('oos_score', 0)):.3f} > "
            f"{float(intent.get('abstain_threshold', 0)):.3f})"
        )
    else:
        why = f"intent confidence {confidence:.3f} < {policy.intent.min_confidence:.3f}"
    return Decision("handoff", h.message, f"{why} and {weak}", faq, True)


class Assistant:
    """The models and the policy of one assistant directory, and the store of its sessions.

    Args:
        intents: a classification predictor with abstention (``predict(texts)``).
        faq: a retrieval predictor (``predict(texts, top_k=k)``).
        generator: an sft predictor (``complete(prompt, ...)``) or None.
        store: a :class:`tunewise.apps.assist.store.Store` or None (nothing kept: eval).
        categories: FAQ passage id -> category.
    """

    def __init__(self, intents, faq, policy: Policy, generator=None, store=None, categories=None):
        self.intents, self.faq, self.generator = intents, faq, generator
        self.policy, self.store = policy, store
        self.categories = categories or {}
        self._sessions: dict[str, Session] = {}  # without a store (eval): kept in memory

    def session(self, session_id: str) -> Session:
        if self.store is not None:
            return self.store.session(session_id)
        return self._sessions.setdefault(session_id, Session(session_id))

    def answer(self, session_id: str, message: str) -> dict:
        """The response to one message: intent, confidence, faq, reply, handoff, reason ..."""
        t0 = time.perf_counter()
        session = self.session(session_id)
        (intent,) = self.intents.predict([message])
        (found,) = self.faq.predict([message], top_k=self.policy.faq.top_k)
        passages = found["passages"]
        d = decide(message, intent, passages, session, self.policy, self.categories)
        generated, overlap = False, None
        if d.decision == "faq" and self.generator is not None:
            d.reply, generated, overlap = self._grounded(message, d.faq["text"])
        faq = d.faq
        out = {
            "session_id": session_id,
            "turn": session.turns + 1,
            "intent": intent.get("label"),
            "confidence": round(float(intent.get("score") or 0.0), 6),
            "intent_abstained": bool(intent.get("abstained", False)),
            "oos_score": intent.get("oos_score"),
            "faq": None
            if faq is None
            else {
                "id": faq["id"],
                "answer": faq["text"],
                "score": round(float(faq["score"]), 6),
                **(
                    {"category": self.categories[faq["id"]]} if faq["id"] in self.categories else {}
                ),
            },
            "decision": d.decision,
            "reply": d.reply,
            "handoff": d.handoff,
            "reason": d.reason,
            "generated": generated,
            "overlap": overlap,
        }
        out["latency_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        session.turns += 1
        session.last_intent = out["intent"] if not out["intent_abstained"] else None
        if d.handoff and not session.handed_off:
            session.handed_off, session.handoff_reason = True, d.reason
        if self.store is not None:
            self.store.log_turn(session, message, out)
        return out

    def _grounded(self, message: str, faq_text: str) -> tuple[str, bool, float]:
        """(reply, whether it is the generator's, its ROUGE-L F1 with the FAQ answer): the
        generated reply only when it stays close to the FAQ answer, else the answer itself."""
        from tunewise.apps.assist.grounding import overlap

        g = self.policy.grounding
        prompt = g.prompt.replace("{faq}", faq_text).replace("{message}", message)
        text = self.generator.complete(prompt, max_new_tokens=g.max_new_tokens)["text"].strip()
        score = round(overlap(text, faq_text), 6)
        if text and score >= g.min_overlap:
            return text, True, score
        return faq_text, False, score
