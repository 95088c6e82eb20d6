"""What an import should tell the person importing before anything is written: names that match
no user (with the split when a name is two known names run together, 陈军宣蔡玉霖), and sections
that look like abbreviations of others (民管 beside 民管科: an alias merges them).

These are warnings, not errors: a plan may be imported before its people are added (they are
linked by name), and only a person can tell an abbreviation from a different section.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, select

from engine.plans.importer import PlanDraft
from engine.store.models import Section, User

ROLES = {"leaders": ("分管领导", "leader"), "persons": ("科室责任人", "staff")}
MAX_PARTS = 3  # 陈军宣蔡玉霖纪如: three leaders in one cell is the most a table writes without a separator


def review(*, session: Session | None, draft: PlanDraft) -> list[str]:
    """The warnings for ``draft``, in Chinese, each a sentence; ``session`` None: no database to ask."""
    users = set(session.exec(select(User.name).where(User.active == True))) if session else set()  # noqa: E712
    sections = set(session.exec(select(Section.name))) if session else set()
    return _people(draft, users, session is not None) + _sections(draft, sections)


def _rows(draft: PlanDraft, attr: str) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for d in draft.targets:
        for name in getattr(d, attr):
            found.setdefault(name, []).append(d.row)
    return found


def _where(rows: list[int]) -> str:
    shown = "、".join(str(r) for r in rows[:5]) + ("等" if len(rows) > 5 else "")
    return f"第 {shown} 行"


def split_of(name: str, known: Iterable[str], parts: int = MAX_PARTS) -> list[str] | None:
    """``name`` as two or more ``known`` names written together, or None (the longest first part wins)."""
    known = set(known)
    for cut in range(len(name) - 1, 0, -1):
        head, rest = name[:cut], name[cut:]
        if len(head) >= 2 and head in known:
            if len(rest) >= 2 and rest in known:
                return [head, rest]
            tail = split_of(rest, known, parts - 1) if parts > 2 else None
            if tail:
                return [head, *tail]
    return None


def _people(draft: PlanDraft, users: set[str], asked: bool) -> list[str]:
    warnings, missing = [], 0
    # Names written alone anywhere in the table count as known people for the split.
    alone = {n for attr in ROLES for n in _rows(draft, attr)}
    for attr, (label, _role) in ROLES.items():
        for name, rows in _rows(draft, attr).items():
            parts = None if name in users else split_of(name, users | (alone - {name}))
            if parts:
                warnings.append(f"{label}“{name}”（{_where(rows)}）疑为{'、'.join(f'“{p}”' for p in parts)}"
                                f"连写，请用“、”分开，否则无人能以此身份审签或办理")
            elif asked and users and name not in users:
                warnings.append(f"{label}“{name}”（{_where(rows)}）不是系统中的用户：添加同名用户后才能办理")
            elif name not in users:
                missing += 1
    if asked and not users and missing:
        warnings.append(f"系统中还没有用户：表中 {missing} 个姓名将在添加同名用户后关联")
    return warnings


def abbreviates(short: str, full: str) -> bool:
    """Whether section name ``short`` reads as an abbreviation of ``full`` (民管 → 民管科, 初幼教 → 初中幼教科)."""
    if len(short) < 2 or len(short) >= len(full) or short[0] != full[0]:
        return False
    chars = iter(full)
    return all(c in chars for c in short)  # every character, in order


def _sections(draft: PlanDraft, known: set[str]) -> list[str]:
    written = _rows(draft, "sections")
    every = set(written) | known
    warnings = []
    for short, rows in written.items():
        fulls = sorted(f for f in every if abbreviates(short, f))
        if fulls:
            options = "、".join(f"“{f}”" for f in fulls)
            warnings.append(f"责任科室“{short}”（{_where(rows)}）疑为{options}的简称：如是同一科室，"
                            f"请加别名 {short}={fulls[0]}（命令行 --alias，YAML 计划的 aliases:）")
    return warnings
