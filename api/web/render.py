"""Rendering pages: Jinja2 with autoescaping everywhere, Chinese labels, the viewer in every page."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from engine.plans import target_checkpoints
from engine.calendar import clock
from engine.workflow import definitions
from engine.workflow.rules import RECIPIENTS, ROLES

_env = Environment(loader=FileSystemLoader(str(resources.files("api").joinpath("templates"))),
                   autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
templates = Jinja2Templates(env=_env)
ROLE_LABELS = {**ROLES, "system": "系统"}


def _when(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return clock.local(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _number(value: Decimal | float | int | None) -> str:
    if value is None:
        return "—"
    text = f"{Decimal(str(value)).normalize():f}"
    return text


def _state(workflow: str, state: str | None) -> str:
    return definitions.get(workflow).state_label(state) if state else ""


_env.filters.update(when=_when, number=_number, checkpoints=target_checkpoints.normalise)
_env.globals.update(role_label=lambda r: ROLE_LABELS.get(r, r), state_label=_state, recipients=RECIPIENTS)


def render(request: Request, name: str, *, status_code: int = 200, **context: Any):
    """A page; ``viewer`` (or None), ``unread`` and ``flash`` are always defined for the layout."""
    context.setdefault("viewer", None)
    context.setdefault("unread", 0)
    context.setdefault("flash", request.query_params.get("done", ""))
    context.setdefault("error", "")
    return templates.TemplateResponse(request, name, context, status_code=status_code)
