"""Personal data masked before a turn is stored: card numbers, IBANs, e-mails, phones.

A card number is 13-19 digits, possibly grouped by spaces or dashes, that passes the Luhn
check; what looks like an IBAN (country code, two check digits, 11-30 letters or digits,
possibly grouped by spaces) is masked whatever its checksum, since a mistyped IBAN is still
someone's account. Other long digit runs (9 or more, or 13-19 grouped) are masked as numbers; dates are kept.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(
    r"\b[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)\b"
)  # compact, or printed in groups of four
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{6,}\d(?!\d)")
_LONG_NUMBER = re.compile(r"\d{9,}")
_DATE = re.compile(r"^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})$")


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (card numbers do)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban(m: re.Match) -> str:
    compact = m.group(0).replace(" ", "")
    # an IBAN has digits after the check digits; a plain word with two digits does not
    return "[iban]" if sum(c.isdigit() for c in compact) >= 8 else m.group(0)


def _card(m: re.Match) -> str:
    digits = re.sub(r"[ -]", "", m.group(0))
    if not 13 <= len(digits) <= 19:
        return m.group(0)
    # a run that long and not a card is still an account or card number mistyped
    return "[card]" if luhn_ok(digits) else "[number]"


def _phone(m: re.Match) -> str:
    if _DATE.match(m.group(0)):
        return m.group(0)
    n = sum(c.isdigit() for c in m.group(0))
    return "[phone]" if 8 <= n <= 15 else m.group(0)


def mask(text: str | None) -> str | None:
    """``text`` with card numbers, IBANs, e-mail addresses and phone numbers replaced by
    ``[card]``, ``[iban]``, ``[email]``, ``[phone]`` (and other 9+ digit runs by ``[number]``)."""
    if not text:
        return text
    text = _EMAIL.sub("[email]", text)
    text = _IBAN.sub(_iban, text)
    text = _CARD.sub(_card, text)
    text = _PHONE.sub(_phone, text)
    return _LONG_NUMBER.sub("[number]", text)
