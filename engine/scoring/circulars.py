"""The monthly circular (通报): progress by section, overdue and supervised items, warnings, late
reports and the ranking of sections — drafted on the plan's day (default the 28th), reviewed and
published by the office.

A draft may be regenerated until it is published; publishing freezes it (its content, the SHA-256 of
that content in the chain, who and when) and sends it to every section's inbox. A published
circular is never changed. :func:`public` is the version for the bureau's portal (公开): without
people's names and the office's internal remarks.

Ranking: sections now (:func:`rank`); child organisations rank by the same function once a plan's
organisation has children — :data:`RANKED` names the units ranked, ``content["ranking"]`` holds one
list per kind of unit.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import date
from typing import Any

from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock
from engine.calendar.workdays import workdays_between
from engine.people import scope
from engine.people.actors import Actor, Parties
from engine.store import db
from engine.store.errors import Duplicate, Forbidden, InvalidPayload, NotFound
from engine.store.models import Circular, Plan, Target
from engine.workflow import definitions, outbox
from engine.workflow.targets import parties_for

CIRCULAR_DAY = 28
#: The kinds of unit a circular ranks; child organisations join here when plans have them.
RANKED = ("sections",)
#: Keys that name people or carry internal remarks: never in the public version.
PRIVATE = {"persons", "leaders", "comment", "generated_by", "published_by"}
LEVELS = ("正常", "黄色预警", "橙色预警", "红色预警")


def period_of(day: date) -> str:
    return f"{day:%Y-%m}"


def circular_day(plan: Plan) -> int:
    return int((plan.supervision or {}).get("circular_day", CIRCULAR_DAY))


def _line(target: Target, parties: Parties, today: date, **more: Any) -> dict[str, Any]:
    return {"code": target.code, "text": target.text, "sections": list(parties.sections),
            "persons": list(parties.persons), "leaders": list(parties.leaders),
            "state": definitions.get(target.workflow).state_label(target.state), **more}


def rank(units: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Units (sections, or child organisations) ranked: average progress first, fewer overdue and
    supervised items next; equal units share a place."""
    ordered = sorted(units.items(), key=lambda kv: (-kv[1]["progress"], kv[1]["overdue"], kv[1]["supervised"], kv[0]))
    out, place, previous = [], 0, None
    for i, (name, figures) in enumerate(ordered, start=1):
        key = (figures["progress"], figures["overdue"], figures["supervised"])
        place = place if key == previous else i
        previous = key
        out.append({"place": place, "name": name, **figures})
    return out


def content_of(session: Session, plan: Plan, today: date) -> dict[str, Any]:
    """What the circular says as of ``today``."""
    rows = list(session.exec(select(Target).where(Target.plan_id == plan.id).order_by(Target.id)
                             .execution_options(populate_existing=True)))
    parties = parties_for(session, [t.id for t in rows])
    own = [t for t in rows if t.workflow == "target"]
    sections: dict[str, dict[str, Any]] = defaultdict(lambda: {"targets": 0, "done": 0, "progress_sum": 0,
                                                               "overdue": 0, "supervised": 0, "warnings": 0})
    later = list(definitions.get("target").states)[2:]
    overdue, supervised, warned = [], [], []
    for t in own:
        p = parties[t.id]
        late = t.state_due is not None and t.state_due < today
        for name in p.sections:
            s = sections[name]
            s["targets"] += 1
            s["done"] += t.state in later
            s["progress_sum"] += 100 if t.state in later else (t.progress or 0)
            s["overdue"] += late
            s["supervised"] += t.supervised
            s["warnings"] += bool(t.risk_level)
        if late:
            overdue.append(_line(t, p, today, due=t.state_due.isoformat(),
                                 working_days_late=workdays_between(t.state_due, today)))
        if t.supervised:
            supervised.append(_line(t, p, today, against=list(t.supervised_against or [])))
        if t.risk_level:
            warned.append(_line(t, p, today, level=LEVELS[t.risk_level], reason=t.risk_reason))
    reports = [_line(t, parties[t.id], today, due=t.due_date.isoformat())
               for t in rows if t.workflow == "report" and t.state == "due" and t.due_date and t.due_date < today]
    notices = [_line(t, parties[t.id], today, due=t.due_date.isoformat() if t.due_date else "")
               for t in rows if t.workflow == "supervision" and t.state != "closed"]
    figures = {}
    for name, s in sections.items():
        figures[name] = {"targets": s["targets"], "done": s["done"], "overdue": s["overdue"],
                         "supervised": s["supervised"], "warnings": s["warnings"],
                         "progress": round(s["progress_sum"] / s["targets"]) if s["targets"] else 0}
    warned.sort(key=lambda x: -LEVELS.index(x["level"]))
    return {"plan": plan.title, "org": plan.org, "as_of": today.isoformat(),
            "totals": {"targets": len(own), "overdue": len(overdue), "supervised": len(supervised),
                       "warnings": len(warned), "late_reports": len(reports), "open_notices": len(notices)},
            "sections": [{"name": name, **figures[name]} for name in sorted(figures)],
            "overdue": overdue, "supervised": supervised, "warnings": warned, "late_reports": reports,
            "notices": notices, "ranking": {"sections": rank(figures)}}


def _office(actor: Actor) -> None:
    if "office" not in actor.roles:
        raise Forbidden("只有绩效办可以编发通报", code="role_forbidden", roles=["office"])


def draft(*, session: Session, plan_id: int, actor: Actor, today: date | None = None) -> Circular:
    """Generate (or regenerate) the plan's circular for this month as a draft; commits. A month whose
    circular is published is refused."""
    _office(actor)
    today = today or clock.today()
    db.begin_write(session)
    try:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise NotFound(f"计划 {plan_id} 不存在", plan_id=plan_id)
        scope.writable(session, actor, plan.org_id, f"计划 {plan_id} 不存在", plan_id=plan_id)
        period = period_of(today)
        found = session.exec(select(Circular).where(Circular.plan_id == plan_id, Circular.period == period)).first()
        if found is not None and found.status == "published":
            raise Duplicate(f"{period} 的通报已发布，不能再修改")
        found = found or Circular(plan_id=plan_id, period=period)
        found.content = content_of(session, plan, today)
        found.created_at = clock.to_db(clock.now())
        session.add(found)
        session.flush()
        chain.append(session, target_id=None, kind="circular", actor=actor.name, role="office", trigger="draft_circular",
                     from_state=None, to_state=None, at=clock.to_db(clock.now()), comment="",
                     payload={"circular_id": found.id, "plan_id": plan_id, "period": period,
                              "digest": digest(found.content)})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return found


def digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


def publish(*, session: Session, circular_id: int, actor: Actor, comment: str = "") -> Circular:
    """Publish a reviewed draft: frozen from now on, its digest in the chain, sent to every section's inbox;
    commits. ``comment`` is the office's internal remark (kept, never public)."""
    _office(actor)
    if len(comment or "") > 2000:
        raise InvalidPayload("内部意见不超过 2000 字", errors=[{"field": "comment", "reason": "过长"}])
    db.begin_write(session)
    try:
        found = get(session=session, circular_id=circular_id, actor=actor)
        scope.writable(session, actor, session.get(Plan, found.plan_id).org_id, f"通报 {circular_id} 不存在",
                       circular_id=circular_id)
        if found.status == "published":
            raise Duplicate(f"{found.period} 的通报已于 {clock.local(found.published_at):%Y-%m-%d %H:%M} 发布，不能再改")
        now = clock.to_db(clock.now())
        found.status, found.comment, found.digest = "published", (comment or "").strip(), digest(found.content)
        found.published_at, found.published_by = now, actor.name
        session.add(found)
        session.flush()
        record = chain.append(session, target_id=None, kind="circular", actor=actor.name, role="office",
                              trigger="publish_circular", from_state="draft", to_state="published", at=now,
                              comment=found.comment, payload={"circular_id": found.id, "plan_id": found.plan_id,
                                                              "period": found.period, "digest": found.digest})
        names = tuple(s["name"] for s in found.content.get("sections", []))
        outbox.emit(session, event_type="circular.published", target_id=None, record_id=record.id,
                    notify=("sections",), parties=Parties(sections=names),
                    data={"plan": found.content.get("plan", ""), "period": found.period,
                          "circular_id": found.id, "totals": found.content.get("totals", {})})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return found


def get(*, session: Session, circular_id: int, actor: Actor | None = None) -> Circular:
    """The circular, if ``actor`` reads its plan's organisation; :class:`NotFound` otherwise."""
    found = session.get(Circular, circular_id)
    plan = session.get(Plan, found.plan_id) if found is not None else None
    if plan is None or not scope.may_read(session, actor, plan.org_id):
        raise NotFound(f"通报 {circular_id} 不存在", circular_id=circular_id)
    return found


def of_plan(*, session: Session, plan_id: int, actor: Actor | None = None) -> list[Circular]:
    """The plan's circulars, newest month first, if ``actor`` reads its organisation; :class:`NotFound` otherwise."""
    plan = session.get(Plan, plan_id)
    if plan is None or not scope.may_read(session, actor, plan.org_id):
        raise NotFound(f"计划 {plan_id} 不存在", plan_id=plan_id)
    return list(session.exec(select(Circular).where(Circular.plan_id == plan_id).order_by(Circular.period.desc())))


def public(content: Any) -> Any:
    """The content without people's names and internal remarks (公开版)."""
    if isinstance(content, dict):
        return {k: public(v) for k, v in content.items() if k not in PRIVATE}
    if isinstance(content, list):
        return [public(v) for v in content]
    return content


def due_today(bind, *, today: date | None = None) -> list[str]:
    """The scheduled job: on each plan's circular day, its month's draft, unless there is one; the periods drafted."""
    today = today or clock.today()
    made = []
    with Session(bind, expire_on_commit=False) as session:
        for plan in session.exec(select(Plan)).all():
            if today.day != circular_day(plan) or not plan.year <= today.year <= plan.year + 1:
                continue
            exists = session.exec(select(Circular.id).where(Circular.plan_id == plan.id,
                                                            Circular.period == period_of(today))).first()
            if exists is None:
                session.rollback()
                draft(session=session, plan_id=plan.id, actor=Actor("绩效办", frozenset({"office"})), today=today)
                made.append(f"{plan.id}:{period_of(today)}")
    return made


def xlsx(content: dict[str, Any], *, period: str, public_version: bool = False) -> bytes:
    """The circular as a workbook: one sheet per part (people's names left out of the public version)."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Font

    c = public(content) if public_version else content
    people = [] if public_version else [("责任人", lambda x: "、".join(x.get("persons", [])))]
    code, text, sections = (("编号", lambda x: x["code"]), ("目标", lambda x: x["text"]),
                            ("科室", lambda x: "、".join(x["sections"])))
    parts = [
        ("各科室进展", c["sections"], [("科室", lambda s: s["name"]), ("目标", lambda s: s["targets"]),
                                     ("已完成自评", lambda s: s["done"]), ("平均进度%", lambda s: s["progress"]),
                                     ("逾期", lambda s: s["overdue"]), ("督办", lambda s: s["supervised"]),
                                     ("预警", lambda s: s["warnings"])]),
        ("科室排名", c["ranking"]["sections"], [("名次", lambda r: r["place"]), ("科室", lambda r: r["name"]),
                                            ("平均进度%", lambda r: r["progress"]), ("逾期", lambda r: r["overdue"]),
                                            ("督办", lambda r: r["supervised"])]),
        ("逾期事项", c["overdue"], [code, text, sections, *people, ("期限", lambda x: x["due"]),
                                  ("逾期工作日", lambda x: x["working_days_late"])]),
        ("督办事项", c["supervised"] + c["notices"], [code, text, sections, *people, ("状态", lambda x: x["state"])]),
        ("预警", c["warnings"], [code, text, sections, *people, ("等级", lambda x: x["level"]),
                               ("原因", lambda x: x["reason"])]),
        ("迟报", c["late_reports"], [text, sections, ("应报日期", lambda x: x["due"])]),
    ]
    book = Workbook()
    book.remove(book.active)
    for title, rows, columns in parts:
        sheet = book.create_sheet(title)
        sheet.append([f"{c['plan']} {period} 月度通报{'（公开版）' if public_version else ''}：{title}"])
        sheet["A1"].font = Font(bold=True)
        sheet.append([name for name, _ in columns])
        for row in rows:
            sheet.append([get(row) for _, get in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
