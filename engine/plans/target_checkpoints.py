"""A target's checkpoints (节点): dated steps before its deadline, each with what must be shown by then.

They come from the plan — the earlier dates of a deadline phrase naming several (``3月25日、9月25日前``)
and the table's ``节点`` column, one per line (``3月25日前：完成方案制定``) — or are added by the office
(:func:`add`, audited). Kept on the target as a list: an ISO date (from a deadline phrase), or
``{"date", "what", "by"}``. Staff report progress against one (``checkpoint`` of ``report_progress``);
one that passes without a report since raises the target's warning (:mod:`engine.schedule.warnings`).
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlmodel import Session

from engine.audit import chain, ledger
from engine.calendar import clock
from engine.calendar.deadlines import DeadlinePhraseError, parse_deadline
from engine.people import scope
from engine.people.actors import Actor
from engine.store import db
from engine.store.errors import NotFound
from engine.store.models import Target
from engine.workflow import payloads

MAX_WHAT = 200
_LINE = re.compile(r"^\s*(?P<when>[^：:，,\s]+?)\s*(?:[：:，,\s]\s*(?P<what>.*))?$")


def normalise(items: list[Any] | None) -> list[dict[str, str]]:
    """Every checkpoint as ``{"date", "what", "by"}``, by date."""
    out = []
    for item in items or []:
        if isinstance(item, dict):
            out.append({"date": str(item.get("date", ""))[:10], "what": str(item.get("what", "")),
                        "by": str(item.get("by", ""))})
        else:
            out.append({"date": str(item)[:10], "what": "", "by": ""})
    return sorted(out, key=lambda c: c["date"])


def label(item: dict[str, str]) -> str:
    """How a checkpoint reads: ``3月25日：完成方案制定``."""
    day = date.fromisoformat(item["date"])
    return f"{day.month}月{day.day}日" + (f"：{item['what']}" if item.get("what") else "")


def parse_cell(cell: str, year: int) -> list[dict[str, str]]:
    """The ``节点`` cell of a plan row: one checkpoint per line (or per ；), a date phrase and what is due.
    Raises :class:`ValueError` naming the line that is not understood."""
    out = []
    for line in re.split(r"[\n；;]+", cell or ""):
        if not line.strip():
            continue
        found = _LINE.match(line.strip())
        try:
            deadline = parse_deadline(found["when"] if found else line, year)
        except DeadlinePhraseError as exc:
            raise ValueError(f"节点“{line.strip()}”的日期无法识别：{exc}") from exc
        if deadline.due is None:
            raise ValueError(f"节点“{line.strip()}”没有具体日期")
        what = (found["what"] or "").strip() if found else ""
        out.append({"date": deadline.due.isoformat(), "what": what[:MAX_WHAT], "by": "plan"})
    return out


def add(*, session: Session, target_id: int, actor: Actor, day: date, what: str) -> Target:
    """The office adds a checkpoint to a plan target; recorded in the chain; commits."""
    what, errors = payloads.office_order(actor, action="增加节点", text=what, text_field="what", text_label="节点要求",
                                         limit=MAX_WHAT, day=day, day_field="date", day_label="节点日期")
    db.begin_write(session)
    try:
        target = session.get(Target, target_id)
        if target is None or target.workflow != "target":
            raise NotFound(f"目标 {target_id} 不存在", target_id=target_id)
        scope.writable(session, actor, target.org_id, f"目标 {target_id} 不存在", target_id=target_id)
        if target.due_date is not None and day > target.due_date:
            errors.append({"field": "date", "reason": f"节点日期不能晚于目标的完成时限（{target.due_date}）"})
        if any(c["date"] == day.isoformat() for c in normalise(target.checkpoints)):
            errors.append({"field": "date", "reason": f"{day} 已有节点"})
        payloads.refuse(errors)
        item = {"date": day.isoformat(), "what": what, "by": actor.name}
        target.checkpoints = list(target.checkpoints or []) + [item]
        target.updated_at = clock.to_db(clock.now())
        session.add(target)
        session.flush()
        chain.append(session, target_id=target.id, kind="amendment", actor=actor.name, role="office",
                     trigger="add_checkpoint", from_state=target.state, to_state=target.state,
                     at=clock.to_db(clock.now()), comment=what,
                     payload={"changes": {"checkpoints": [None, item]}, "after": ledger.target_after(target)})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return target
