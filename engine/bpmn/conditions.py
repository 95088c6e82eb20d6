"""BPMN conditions (JUEL, as Camunda, Flowable and Activiti write them) as CEL over the payload.

``${approved}`` → ``payload.approved``, ``#{!approved}`` → ``!payload.approved``,
``${vacationApproved == 'false'}`` → ``payload.vacation_approved == false``,
``${amount > 1000}`` → ``payload.amount > 1000.0``. Each variable becomes a payload field the
person submits with the transition (its type read from how the condition uses it). What this
cannot translate faithfully — a method call, a property path, ``empty``, a ternary — gives
``None``, and the importer says so; it never guesses.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

TOKEN = re.compile(r"""\s*(?:(?P<str>'[^']*'|"[^"]*")|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|>=|<=|&&|\|\||[<>!()])
                       |(?P<name>[A-Za-z_][A-Za-z0-9_]*))""", re.X)
WORDS = {"and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}
COMPARISONS = {"==", "!=", "<", ">", "<=", ">="}


@dataclass
class Translated:
    """A condition as CEL, and the payload fields it reads (name → field type)."""

    expression: str
    fields: dict[str, str] = field(default_factory=dict)


def _tokens(text: str) -> list[tuple[str, str]] | None:
    found, at = [], 0
    while at < len(text):
        m = TOKEN.match(text, at)
        if not m or m.end() == at:
            return None if text[at:].strip() else found
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "name" and value in WORDS:
            kind, value = "op", WORDS[value]
        found.append((kind, value))
        at = m.end()
    return found


def to_cel(condition: str, snake) -> Translated | None:
    """``condition`` (the text inside ``${…}``) as CEL over ``payload``, or ``None`` if it cannot be
    translated as written; ``snake`` turns a variable's name into a payload field's name."""
    tokens = _tokens(condition)
    if not tokens:
        return None
    out: list[str] = []
    fields: dict[str, str] = {}
    for i, (kind, value) in enumerate(tokens):
        if kind == "name" and value in ("true", "false"):
            out.append(value)
        elif kind == "name":
            if value in ("null", "empty") or (i + 1 < len(tokens) and tokens[i + 1][1] == "("):
                return None  # a method call or a null test says more than a payload field can
            name = snake(value)
            if not name:
                return None
            fields[name] = _type_of(tokens, i)
            out.append(f"payload.{name}")
        elif kind == "num":
            out.append(str(float(value)))
        elif kind == "str":
            inner = value[1:-1]
            # JUEL coerces 'true' and 'false' to booleans where compared with a boolean variable.
            out.append(inner if inner in ("true", "false") else json.dumps(inner, ensure_ascii=False))
        else:
            out.append(value)
    text = " ".join(out).replace("( ", "(").replace(" )", ")").replace("! ", "!")
    return Translated(text, fields)


def _type_of(tokens: list[tuple[str, str]], i: int) -> str:
    """A variable's field type, from the other side of the comparison it stands in (boolean when bare)."""
    for op_at, other_at in ((i + 1, i + 2), (i - 1, i - 2)):
        if 0 <= other_at < len(tokens) and tokens[op_at][1] in COMPARISONS:
            kind, value = tokens[other_at]
            if kind == "num":
                return "number"
            if kind == "str":
                return "boolean" if value[1:-1] in ("true", "false") else "string"
            return "boolean" if value in ("true", "false") else "number" if tokens[op_at][1] not in ("==", "!=") \
                else "string"
    return "boolean"


#: The payload variable an export's gateway tests: the action the person chose on the task (its trigger).
DECISION = "decision"
_DECIDED = re.compile(r"(?:decision|trigger)\s*==\s*(['\"])([a-z][a-z0-9_]*)\1(?:\s*&&\s*\((.*)\))?", re.S)


def to_juel(expression: str) -> str:
    """A ``when`` expression (CEL over ``payload`` and ``target``) as the JUEL another engine evaluates over
    its process variables: ``payload.agree == true`` → ``agree == true``. The operators of the CEL our
    conditions use (``==``, ``<=``, ``&&``, ``||``, ``!``, literals) are written the same in JUEL."""
    out, at = [], 0
    for m in re.finditer(r"'[^']*'|\"[^\"]*\"|\bpayload\.", expression):
        out.append(expression[at:m.start()])
        out.append("" if m[0] == "payload." else m[0])
        at = m.end()
    return "".join(out) + expression[at:]


def decided(trigger: str, when: str = "") -> str:
    """The condition of an exported gateway's flow: the person chose ``trigger`` (and ``when`` holds)."""
    chosen = f"{DECISION} == '{trigger}'"
    return f"${{{chosen} && ({to_juel(when)})}}" if when else f"${{{chosen}}}"


def decision_of(condition: str) -> tuple[str, str] | None:
    """``(trigger, the rest)`` of a condition :func:`decided` wrote (the rest ``""`` when nothing more is
    tested); ``None`` for any other condition."""
    m = _DECIDED.fullmatch(condition)
    return (m[2], (m[3] or "").strip()) if m else None
