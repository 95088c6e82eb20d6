"""Building a notification's words from its event (Jinja2, Chinese, strict): apart from sending it."""
from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound


@cache
def environment() -> Environment:
    # Plain text, not HTML: nothing to escape; a missing value is an error, never an empty gap.
    return Environment(loader=PackageLoader("notifications", "templates"), undefined=StrictUndefined,
                       autoescape=False, keep_trailing_newline=False)


def template_name(event_type: str) -> str:
    return f"{event_type}.txt"


def has_template(event_type: str) -> bool:
    try:
        environment().get_template(template_name(event_type))
    except TemplateNotFound:
        return False
    return True


def render(event_type: str, data: dict[str, Any], recipient: str, *, link: str = "", due: str = "") -> tuple[str, str]:
    """(subject, body) for an event: the template's first line is the subject, the rest the body; then where to
    act (``link``, the target's page) and by when (``due``), above the signature."""
    text = environment().get_template(template_name(event_type)).render(**data, recipient=recipient or "您")
    subject, _, body = text.partition("\n")
    body = body.strip()
    extra = ([f"本阶段期限：{due}"] if due else []) + ([f"查看和办理：{link}"] if link else [])
    if extra:
        head, sign, tail = body.rpartition("\n——")
        body = "\n".join([head if sign else body, *extra]) + (f"\n\n——{tail}" if sign else "")
    return subject.strip(), body + "\n"
