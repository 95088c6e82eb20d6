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


def render(event_type: str, data: dict[str, Any], recipient: str) -> tuple[str, str]:
    """(subject, body) for an event: the template's first line is the subject, the rest the body."""
    text = environment().get_template(template_name(event_type)).render(**data, recipient=recipient or "您")
    subject, _, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"
