"""Checking a transition's payload against the fields its definition requires."""
from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal
from typing import Any

from engine.workflow.definitions import FieldSpec, TransitionSpec

#: Length limits for text that a definition does not limit itself.
DEFAULT_MAX_LENGTH = {"string": 500, "text": 8000}
COMMENT_MAX_LENGTH = 4000

_TYPE_NAMES = {
    "string": "文本", "text": "文本", "integer": "整数", "number": "数字",
    "boolean": "是/否", "date": "日期（YYYY-MM-DD）", "list": "列表", "object": "对象",
}


def _type_ok(spec: FieldSpec, value: Any) -> bool:
    if spec.type in ("string", "text"):
        return isinstance(value, str)
    if spec.type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if spec.type == "number":
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if spec.type == "boolean":
        return isinstance(value, bool)
    if spec.type == "date":
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return True
    if spec.type == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def _has_nul(value: Any) -> bool:
    """A NUL, or a lone surrogate (``"\\ud800"`` in JSON: no UTF-8 for it, no database stores it)."""
    if isinstance(value, str):
        return "\x00" in value or not value.isascii() and any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


#: Scores and points are kept to two decimals (Numeric(7, 2)); more is refused, never rounded silently.
SCORE_DECIMALS = 2
NUMBER_LIMIT = 99_999.99  # the most a Numeric(7, 2) column holds


def _has_non_finite(value: Any) -> bool:
    """NaN or Infinity anywhere inside (JSON has no such numbers; PostgreSQL refuses them)."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def _field_error(spec: FieldSpec, value: Any) -> str | None:
    label = spec.label or spec.name
    if not _type_ok(spec, value):
        return f"{label}应为{_TYPE_NAMES[spec.type]}"
    if _has_nul(value):
        return f"{label}含有不可见的控制字符或无效的字符"
    if _has_non_finite(value):
        return f"{label}含有无效的数字（NaN 或无穷大）"
    if spec.type in ("string", "text"):
        limit = spec.max_length or DEFAULT_MAX_LENGTH[spec.type]
        if len(value) > limit:
            return f"{label}不能超过 {limit} 个字符"
    if spec.type == "number" and Decimal(str(value)).as_tuple().exponent < -SCORE_DECIMALS:
        return f"{label}最多保留 {SCORE_DECIMALS} 位小数"  # as the column keeps it: record and column say the same
    if spec.type == "number" and abs(value) > NUMBER_LIMIT:
        return f"{label}不能超过 {NUMBER_LIMIT}"
    if spec.type in ("integer", "number"):
        if spec.min is not None and value < spec.min:
            return f"{label}不能小于 {spec.min:g}"
        if spec.max is not None and value > spec.max:
            return f"{label}不能大于 {spec.max:g}"
    return None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check(spec: TransitionSpec, payload: dict[str, Any], comment: str) -> list[dict[str, str]]:
    """Every problem with ``payload`` and ``comment`` for ``spec``, as ``{"field", "reason"}``."""
    errors = []
    known = {field.name for field in spec.fields}
    for name in payload:
        if name not in known:
            errors.append({"field": name, "reason": f"该操作没有字段“{name}”"})
    for field in spec.fields:
        value = payload.get(field.name)
        if _missing(value):
            if field.required:
                errors.append({"field": field.name, "reason": f"缺少必填项：{field.label or field.name}"})
            continue
        reason = _field_error(field, value)
        if reason:
            errors.append({"field": field.name, "reason": reason})
    if spec.comment_required and _missing(comment):
        errors.append({"field": "comment", "reason": "该操作必须填写意见或理由"})
    if "\x00" in comment:
        errors.append({"field": "comment", "reason": "意见含有不可见的控制字符"})
    if comment and len(comment) > COMMENT_MAX_LENGTH:
        errors.append({"field": "comment", "reason": f"意见不能超过 {COMMENT_MAX_LENGTH} 个字符"})
    return errors


def from_form(spec: TransitionSpec, form: dict[str, Any], indicator_names: list[str] = ()) -> dict[str, Any]:
    """A payload from a web form's strings, by each field's type; what cannot be read is left as
    written, for :func:`check` to refuse with a reason. Indicator values come as ``indicator:<name>``."""
    payload: dict[str, Any] = {}
    for field in spec.fields:
        raw = form.get(field.name)
        if field.type == "object" and field.name == "indicators":
            values = {n: str(form.get(f"indicator:{n}", "")).strip() for n in indicator_names}
            values = {n: v for n, v in values.items() if v}
            if values:
                payload[field.name] = values
            continue
        if field.name in ("deductions", "bonus"):
            lines = [line.strip() for line in str(form.get(f"{field.name}_text", "")).splitlines() if line.strip()]
            if lines:
                payload[field.name] = [_deduction(line) for line in lines]
            continue
        if field.type in ("list", "object") or raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        text = str(raw).strip()
        if field.name == "score" and text == str(form.get("score_default", "")).strip():
            continue  # the pre-filled weight: the score is 权重 − Σ扣分, worked out by the engine
        try:
            if field.type == "integer":
                payload[field.name] = int(text)
            elif field.type == "number":
                number = float(text)
                payload[field.name] = int(number) if number.is_integer() and "." not in text else number
            elif field.type == "boolean":
                payload[field.name] = text.lower() in ("1", "true", "on", "yes", "是")
            else:
                payload[field.name] = text
        except ValueError:
            payload[field.name] = text
    return payload


_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, ord("−"): ord("-")}
_POINTS = r"(?P<points>[0-9]+(?:\.[0-9]+)?)"
_SEP = r"[\s，,、：:；;。.]*"
# "0.5 进度滞后", "扣0.3分，签到表不全", "-0.5分：…" — or the reason first: "签到表不全，扣0.3分".
# The points end in 分 or a separator: "3月未报送" is a reason, not 3 points for "月未报送".
_POINTS_FIRST = re.compile(rf"^[扣减加+-]?\s*{_POINTS}(?:\s*分|(?=[\s，,、：:；;]|$)){_SEP}(?P<reason>.*)$")
_POINTS_LAST = re.compile(rf"^(?P<reason>.*?){_SEP}[扣减加+-]\s*{_POINTS}\s*分{_SEP}$")


def _deduction(line: str) -> dict[str, Any]:
    """One line of the deductions (or bonus) box → ``{"points": 0.3, "reason": "签到表不全"}``.

    Reads ``0.5 进度滞后``, ``扣0.3分，签到表不全``, ``0.3分：签到表不全`` and ``签到表不全，扣0.3分``.
    A line without readable points keeps the whole line as its points, so the guard refuses it
    naming the text, and nothing typed is lost."""
    text = line.translate(_WIDTH).strip()
    found = _POINTS_LAST.match(text) or _POINTS_FIRST.match(text)
    if found is None:
        return {"points": line.strip(), "reason": ""}
    value = float(found["points"])
    return {"points": int(value) if value.is_integer() and "." not in found["points"] else value,
            "reason": found["reason"].strip()}


def office_order(actor, *, action: str, text: str, text_field: str, text_label: str, limit: int, day: date,
                 day_field: str, day_label: str) -> tuple[str, list[dict[str, str]]]:
    """What the office writes when it gives an order about a target (a 督办单, an 整改 item, a 节点).

    Only the office gives one (:class:`~engine.store.errors.Forbidden` naming ``action``); its text is
    required and at most ``limit`` characters, its date not before today. Returns the stripped text and
    the problems found, so that the caller adds its own before it refuses them all at once.
    """
    from engine.calendar import clock
    from engine.store.errors import Forbidden

    if "office" not in actor.roles:
        raise Forbidden(f"只有绩效办可以{action}", code="role_forbidden", roles=["office"])
    text = (text or "").strip()
    errors = []
    if not text:
        errors.append({"field": text_field, "reason": f"请写明{text_label}"})
    elif len(text) > limit:
        errors.append({"field": text_field, "reason": f"{text_label}不超过 {limit} 字"})
    if day < clock.today():
        errors.append({"field": day_field, "reason": f"{day_label}不能早于今天"})
    return text, errors


def refuse(errors: list[dict[str, str]]) -> None:
    """:class:`~engine.store.errors.InvalidPayload` with every problem in ``errors``, if there is any."""
    from engine.store.errors import InvalidPayload

    if errors:
        raise InvalidPayload("；".join(e["reason"] for e in errors), errors=errors)
