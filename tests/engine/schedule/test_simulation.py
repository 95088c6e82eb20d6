"""The year simulation: on a throw-away copy, nothing sent, the live database untouched."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session

from engine.calendar import clock
from engine.people.users import add
from engine.schedule.simulation import SimulationError, simulate
from engine.store import backup
from engine.store.config import settings
from engine.store.models import ReportSchedule
from notifications import dispatch
from tests import factories as f
from tests.engine.lifecycle import step
from tests.notifications.test_channels import HOST, Mailbox, free_port


def _live(bind) -> dict:
    with bind.connect() as connection:
        described = backup.describe(connection)
    return {k: described[k] for k in ("counts", "chain_count", "chain_last_hash")}


@pytest.fixture
def planned(session):
    """A plan made on 2 January 2024: one target of 规划科, one of 思政科, monthly reports, people with e-mail."""
    with clock.frozen(datetime(2024, 1, 2, 9)):
        for name, roles, sections in [("洪玮玮", ["staff"], ["规划科"]), ("陈华森", ["staff"], ["思政科"]),
                                      ("林长华", ["leader"], []), ("绩效办", ["office"], [])]:
            add(session=session, name=name, roles=roles, sections=sections, email=f"{len(name)}{roles[0]}@example.gov.cn")
        planning = f.target(session, code="1-1-1", due_date=date(2024, 12, 31))
        lagging = f.target(session, code="1-3-1", sections=("思政科",), persons=("陈华森",), due_date=date(2024, 12, 31))
        session.add(ReportSchedule(plan_id=planning.plan_id, key="monthly", label="月度工作进展", phrase="每月25日前"))
        session.commit()
    return planning, lagging


def test_a_stalled_section_warns_and_escalates_on_the_copy_only(session, engine_db, db_url, planned, monkeypatch):
    planning, lagging = planned
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname=HOST, port=port)
    controller.start()
    try:
        for name, value in (("smtp_host", HOST), ("smtp_port", port), ("smtp_starttls", False),
                            ("smtp_from", "kaoping@bureau.gov.cn")):
            monkeypatch.setattr(settings(), name, value)
        before = _live(engine_db)
        with clock.frozen(datetime(2024, 1, 2, 12)):
            timeline = simulate(url=db_url, plan_id=planning.plan_id, start=date(2024, 1, 2), until=date(2024, 6, 30),
                                assume="stall:思政科")
        assert _live(engine_db) == before  # counts of every table and the chain head, as they were
        assert mailbox.envelopes == []
        # the channel is real: a change on the live database is mailed
        with clock.frozen(datetime(2024, 7, 1, 9)):
            step(session, planning.id, "start", f.STAFF)
            step(session, planning.id, "self_assess", f.STAFF)
        assert dispatch.dispatch(engine_db).sent >= 2
        assert len(mailbox.envelopes) == 1 and mailbox.envelopes[0].rcpt_tos == ["3leader@example.gov.cn"]
    finally:
        controller.stop()

    warned = [(h.day, h.code, h.detail.split("：")[0]) for h in timeline.happenings if h.kind == "预警"]
    assert [w for w in warned if w[1] == "1-1-1"] == []  # 规划科 reports steadily
    levels = [w[2] for w in warned if w[1] == "1-3-1"]
    assert levels[:3] == ["黄色预警", "橙色预警", "红色预警"] and warned[0][0] < date(2024, 3, 1)
    reports = [h for h in timeline.happenings if h.kind == "报告事项"]
    assert {h.sections for h in reports} == {("规划科",), ("思政科",)} and len(reports) == 12  # January to June
    late = [h for h in timeline.happenings if h.kind == "督办升级" and "思政科" in h.sections]
    assert late and all(h.code.startswith("R-monthly-") for h in late)  # its report items go unreported
    assert [h.kind for h in timeline.happenings if "规划科" in h.sections and h.kind in ("督办升级", "预警")] == []
    assert timeline.by_section()["思政科"]["预警"] == len(levels)
    assert "陈华森" in timeline.by_person()


def test_bad_assumptions_and_dates_are_refused(db_url, planned):
    planning, _ = planned
    with pytest.raises(SimulationError, match="无法理解的假设"):
        simulate(url=db_url, plan_id=planning.plan_id, assume="stall")
    with pytest.raises(SimulationError, match="早于开始日期"):
        simulate(url=db_url, plan_id=planning.plan_id, start=date(2024, 6, 1), until=date(2024, 5, 1))
    with pytest.raises(SimulationError, match="计划 999 不存在"):
        simulate(url=db_url, plan_id=999)
