"""Holidays and make-up working days the office enters from the official notice (放假通知), audited.

``kaoping calendar set 2027-10-01 holiday 国庆节``, ``… workday``, ``kaoping calendar import FILE``.
A notice file has one line per day or run of days, ``#`` starts a comment::

    # 国务院办公厅关于2027年部分节假日安排的通知
    2027-01-01 holiday 元旦
    2027-10-01..2027-10-07 holiday 国庆节
    2027-09-26 workday 国庆节调休

The kind may also be written 放假 / 休 (holiday) or 上班 / 班 (workday). Every change writes a
chained record. :func:`warnings` says which years that matter (a plan's year and the January
after it) neither the calendar package nor the office's days cover.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, select

from engine.audit import chain
from engine.calendar import clock, workdays
from engine.people.actors import Actor
from engine.store import calendardays
from engine.store.errors import Forbidden, InvalidPayload
from engine.store.models import CalendarDay, Plan

KINDS = {"holiday": "holiday", "放假": "holiday", "休": "holiday", "假": "holiday",
         "workday": "workday", "上班": "workday", "班": "workday"}
LABELS = {"holiday": "放假", "workday": "上班"}
MAY_SET = {"office", "admin"}
LINE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\s*(?:\.\.|至|~)\s*(\d{4}-\d{2}-\d{2}))?\s+(\S+)(?:\s+(.+?))?\s*$")
MAX_RUN = 31  # days in one line: a holiday is never longer
SHOWN = 5  # problems spelled out in the message (all are in its details)


@dataclass(frozen=True)
class Entry:
    day: date
    kind: str  # holiday | workday
    name: str = ""


def _role(actor: Actor) -> str:
    allowed = sorted(actor.roles & MAY_SET)
    if not allowed:
        raise Forbidden("只有绩效办或管理员可以设置节假日", code="role_forbidden")
    return allowed[0]


def _kind(text: str) -> str:
    kind = KINDS.get(text.strip().lower())
    if kind is None:
        raise ValueError(f"类型应为 holiday（放假）或 workday（上班），收到：{text}")
    return kind


def _record(session: Session, actor: Actor, role: str, trigger: str, payload: dict) -> None:
    chain.append(session, target_id=None, kind="calendar", actor=actor.name, role=role, trigger=trigger,
                 at=clock.to_db(clock.now()), comment="", payload=payload)


def _put(session: Session, entry: Entry, actor: Actor) -> dict:
    """Write one day; returns what the record says of it (with the kind it had before, if any)."""
    row = session.exec(select(CalendarDay).where(CalendarDay.day == entry.day)).first()
    before = row.kind if row else None
    if row is None:
        row = CalendarDay(day=entry.day, kind=entry.kind, name=entry.name, set_by=actor.name)
    else:
        row.kind, row.name, row.set_by, row.set_at = entry.kind, entry.name, actor.name, clock.to_db(clock.now())
    session.add(row)
    return {"date": entry.day.isoformat(), "kind": entry.kind, "name": entry.name, "before": before}


def set_day(*, session: Session, day: date, kind: str, name: str = "", actor: Actor) -> CalendarDay:
    """Enter ``day`` as a holiday or a make-up working day (replacing what was entered for it); flushes."""
    role = _role(actor)
    try:
        entry = Entry(day, _kind(kind), name.strip()[:60])
    except ValueError as exc:
        raise InvalidPayload(str(exc), errors=[{"field": "kind", "reason": str(exc)}]) from exc
    _record(session, actor, role, "set_calendar_day", _put(session, entry, actor))
    session.flush()
    calendardays.install(session)
    return session.exec(select(CalendarDay).where(CalendarDay.day == day)).one()


def clear_day(*, session: Session, day: date, actor: Actor) -> bool:
    """Forget what was entered for ``day`` (the calendar package decides again); flushes. False if nothing was."""
    role = _role(actor)
    row = session.exec(select(CalendarDay).where(CalendarDay.day == day)).first()
    if row is None:
        return False
    _record(session, actor, role, "clear_calendar_day", {"date": day.isoformat(), "before": row.kind, "name": row.name})
    session.delete(row)
    session.flush()
    calendardays.install(session)
    return True


def parse_notice(text: str) -> list[Entry]:
    """The days of a notice file (format above); every bad line is reported, with its number."""
    entries: dict[date, Entry] = {}
    problems = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip().lstrip("\ufeff")
        if not line:
            continue
        found = LINE.match(line)
        try:
            if not found:
                raise ValueError("应为“日期 类型 名称”，如 2027-10-01 holiday 国庆节，或 2027-10-01..2027-10-07 holiday 国庆节")
            first = date.fromisoformat(found[1])
            last = date.fromisoformat(found[2]) if found[2] else first
            kind = _kind(found[3])
            if not 0 <= (last - first).days < MAX_RUN:
                raise ValueError(f"日期范围应由早到晚且不超过 {MAX_RUN} 天")
        except ValueError as exc:
            problems.append(f"第 {number} 行：{exc}")
            continue
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            if day in entries and entries[day].kind != kind:
                problems.append(f"第 {number} 行：{day} 前面已定为{LABELS[entries[day].kind]}")
            entries[day] = Entry(day, kind, (found[4] or "").strip()[:60])
    if problems:
        shown = "；".join(problems[:SHOWN]) + (f"；……共 {len(problems)} 处" if len(problems) > SHOWN else "")
        raise InvalidPayload(shown, errors=[{"field": "file", "reason": p} for p in problems])
    if not entries:
        raise InvalidPayload("文件中没有日期", errors=[{"field": "file", "reason": "文件中没有日期"}])
    return sorted(entries.values(), key=lambda e: e.day)


def import_notice(*, session: Session, text: str, actor: Actor) -> list[Entry]:
    """Enter every day of a notice file, all or none, as one chained record; flushes."""
    role = _role(actor)
    entries = parse_notice(text)
    days = [_put(session, entry, actor) for entry in entries]
    _record(session, actor, role, "import_calendar", {"days": days})
    session.flush()
    calendardays.install(session)
    return entries


def entered(*, session: Session, year: int | None = None) -> list[CalendarDay]:
    """The days the office entered (of ``year``), in order."""
    query = select(CalendarDay).order_by(CalendarDay.day)
    if year is not None:
        query = query.where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day < date(year + 1, 1, 1))
    return list(session.exec(query))


@dataclass(frozen=True)
class Gap:
    """A year (or the January of a year) that working-day counts need and nobody covers."""

    year: int
    january_only: bool

    @property
    def message(self) -> str:
        when = f"{self.year} 年 1 月" if self.january_only else f"{self.year} 年"
        return (f"{when}的法定节假日和调休未知：日历库只含到 {_last_library_year()} 年，也未录入该年的放假通知，"
                f"工作日暂按周一至周五计算。请在“节假日”页面或用 kaoping calendar import 录入国务院办公厅的放假通知。")


def _last_library_year() -> int:
    year = clock.today().year + 1
    while year > 2004 and not workdays.library_covers(year):
        year -= 1
    return year


def gaps(*, session: Session, today: date | None = None) -> list[Gap]:
    """The years that matter and are covered neither by the calendar package nor by the office's days.

    What matters: the year of every plan not older than last year (and this year, with no
    plan), and the January after it (the evaluation is in early January).
    """
    today = today or clock.today()
    years = {y for y in session.exec(select(Plan.year).distinct()) if y >= today.year - 1} or {today.year}
    entered_years = {d.year for d in calendardays.load(session)}
    needed = {year: False for year in years}
    for year in years:
        needed.setdefault(year + 1, True)
    found = [Gap(year, january) for year, january in sorted(needed.items())
             if not workdays.library_covers(year) and year not in entered_years]
    return found


def warnings(*, session: Session, today: date | None = None) -> list[str]:
    """The :func:`gaps` as sentences for people (the office's pages, ``kaoping jobs run``)."""
    return [gap.message for gap in gaps(session=session, today=today)]
