"""Names people type (users, sections) and e-mail addresses, made safe to compare and keep.

A name is normalised (NFKC: full-width and compatibility forms become the plain character),
loses its invisible characters (zero-width spaces and joiners, bidi controls, other format and
control characters) and has its spaces collapsed. Two names whose *skeletons* match — the same
after case folding and mapping look-alike letters (Cyrillic ``а`` for Latin ``a``) to one
form — are confusable: the second is refused as a duplicate of the first.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from confusable_homoglyphs import confusables
from email_validator import EmailNotValidError, validate_email

from engine.store.errors import InvalidPayload

_SPACES = re.compile(r"\s+")
PREFERRED = ["latin", "common", "han"]


def clean(name: str) -> str:
    """``name`` in NFKC, without invisible characters, its spaces collapsed and trimmed."""
    text = unicodedata.normalize("NFKC", name or "")
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc") or c in "\t\n")
    return _SPACES.sub(" ", text).strip()


def skeleton(name: str) -> str:
    """What ``name`` looks like: cleaned, case-folded, look-alike letters mapped to one form, no spaces."""
    out = []
    for char in clean(name).casefold():
        if char.isspace():
            continue
        found = confusables.is_confusable(char, greedy=True, preferred_aliases=PREFERRED) if not char.isascii() else False
        out.append(found[0]["homoglyphs"][0]["c"] if found else char)
    return "".join(out)


def confusable_with(name: str, existing: Iterable[str]) -> str | None:
    """The first of ``existing`` that ``name`` could be taken for (the same name included), or ``None``."""
    mine = skeleton(name)
    return next((other for other in existing if skeleton(other) == mine), None)


def email_address(address: str | None) -> str | None:
    """A checked, normalised e-mail address (no DNS look-up), ``None`` for none; :class:`InvalidPayload` else."""
    if address is None or not address.strip():
        return None
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidPayload(f"电子邮件地址无效：{exc}", errors=[{"field": "email", "reason": "电子邮件地址无效"}]) from exc
