"""Conditions written as data: a transition's ``when`` is a CEL expression (Google's Common
Expression Language, evaluated by ``cel-python``), never Python.

An expression sees two maps: ``payload`` (what the person submits with the transition) and
``target`` (the target's fields: ``code``, ``state``, ``weight``, ``self_score``, ``score``,
``progress``). Every number is a double, so ``payload.amount > 1000.0`` and
``payload.self_score <= target.weight`` compare as written. The transition may go ahead when the
expression is ``true``; ``false`` refuses it with the expression in the reason, and an expression
that does not give a boolean (a field left out, a string compared with a number) refuses it too.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

import celpy

_ENV = celpy.Environment()
#: The fields of a target an expression may read.
TARGET_FIELDS = ("code", "state", "weight", "self_score", "score", "progress")


class ExpressionError(ValueError):
    """An expression that does not parse; the message says where."""


@lru_cache(maxsize=512)
def compiled(text: str) -> celpy.Runner:
    """The program of ``text`` (compiled once per text); :class:`ExpressionError` if it does not parse."""
    try:
        return _ENV.program(_ENV.compile(text))
    except celpy.CELParseError as exc:
        raise ExpressionError(f"条件表达式无法解析：{' '.join(str(exc).split())}") from exc


def _plain(value: Any) -> Any:
    """JSON-like values with every number as a float (CEL does not compare an int with a double)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def activation(payload: dict[str, Any], target: Any) -> dict[str, Any]:
    """What an expression sees of a transition: the payload and the target's fields."""
    fields = {name: getattr(target, name, None) for name in TARGET_FIELDS}
    return celpy.json_to_cel({"payload": _plain(payload), "target": _plain({k: v for k, v in fields.items()
                                                                             if v is not None})})


def refusal(text: str, payload: dict[str, Any], target: Any) -> str | None:
    """``None`` when ``text`` holds for this payload and target, else why the transition may not go ahead."""
    try:
        result = compiled(text).evaluate(activation(payload, target))
    except celpy.CELEvalError as exc:
        detail = exc.args[0] if exc.args else exc
        return f"条件 {text} 无法判断：{detail}"
    if not isinstance(result, celpy.celtypes.BoolType):
        return f"条件 {text} 的结果不是真假值（为 {result}）"
    return None if bool(result) else f"不满足条件：{text}"
