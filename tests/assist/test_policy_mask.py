"""policy.yaml is validated with every wrong field named at once, unknown intents refused;
personal data (Luhn-valid card numbers, IBANs, e-mails, phones) is masked."""

from __future__ import annotations

import pytest

from tunewise.apps.assist.mask import luhn_ok, mask
from tunewise.apps.assist.policy import Policy, dump_policy, load_policy
from tunewise.errors import UserError


def test_policy_round_trips_and_names_every_bad_field(tmp_path):
    p = tmp_path / "policy.yaml"
    pol = Policy()
    pol.faq.threshold = 0.42
    p.write_text(dump_policy(pol))
    assert load_policy(p).faq.threshold == 0.42
    p.write_text("faq:\n  threshold: 3\n  top_k: 0\nintent:\n  min_confidnce: 0.5\n")
    with pytest.raises(UserError) as e:
        load_policy(p)
    msg = str(e.value)
    assert "faq.threshold" in msg and "faq.top_k" in msg and "intent.min_confidnce" in msg
    assert "\n" not in msg
    p.write_text("faq: [unclosed\n")
    with pytest.raises(UserError, match=r"policy.yaml line 2, column 1: not valid YAML"):
        load_policy(p)
    p.write_text("- a list\n")
    with pytest.raises(UserError, match="must be a mapping"):
        load_policy(p)
    with pytest.raises(UserError, match="missing"):
        load_policy(tmp_path / "nope.yaml")


def test_policy_refuses_intents_the_classifier_does_not_know():
    pol = Policy.model_validate({"intent": {"handoff": ["card_arival"], "replies": {"x": "y"}}})
    with pytest.raises(
        UserError,
        match="intent.replies: unknown intent 'x'.*intent.handoff: unknown intent 'card_arival'",
    ):
        pol.check_intents(["card_arrival"])
    Policy().check_intents(["card_arrival"])


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("my card 4111 1111 1111 1111 was charged", "my card [card] was charged"),
        ("card 5500-0000-0000-0004.", "card [card]."),
        ("amex 378282246310005 ok", "amex [card] ok"),
        ("iban GB82 WEST 1234 5698 7654 32 please", "iban [iban] please"),
        ("to DE89370400440532013000", "to [iban]"),
        ("write to john.doe+bank@example.co.uk now", "write to [email] now"),
        ("call +44 20 7946 0958 or (555) 123-4567", "call [phone] or [phone]"),
        ("paid 25 dollars on 2023-05-01 for 3 cards", "paid 25 dollars on 2023-05-01 for 3 cards"),
        ("number 4111 1111 1111 1112", "number [number]"),  # not Luhn: still masked
    ],
)
def test_mask(raw, masked):
    assert mask(raw) == masked


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
