"""The office's calendar days, put where working days are counted (:mod:`engine.calendar.workdays`).

The calendar wing cannot read the database, so the code that counts working days on behalf
of a piece of work (a transition's due date, a sweep) calls :func:`install` with its session
first: one small query, and every process sees what another one entered.
"""
from __future__ import annotations

from datetime import date

from sqlmodel import Session, select

from engine.calendar import workdays
from engine.store.models import CalendarDay

#: What each kind of day means for working-day counts.
WORKED = {"holiday": False, "workday": True}


def load(session: Session) -> dict[date, bool]:
    """Day → whether it is worked, for every day the office entered."""
    return {day: WORKED[kind] for day, kind in session.exec(select(CalendarDay.day, CalendarDay.kind))}


def install(session: Session) -> bool:
    """Make the database's calendar days the working-day overrides of this process; returns whether they changed."""
    return workdays.use_overrides(load(session))
