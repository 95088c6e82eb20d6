"""Ranking (排名) of a city's county bureaus by score rate, on-time rate and overdue count: one query."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import event
from sqlmodel import select

from engine.calendar import clock
from engine.plans import handdown
from engine.scoring import ranking
from engine.store.models import Target
from tests.engine.lifecycle import step
from tests.engine.plans.test_handdown import CITY, _import, _parent, _people, _run_child, _tree


def _statements(session, work):
    seen = []

    def count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", count)
    try:
        result = work()
    finally:
        event.remove(bind, "before_cursor_execute", count)
    return result, len(seen)


def test_counties_ranked_by_score_rate_on_time_rate_and_overdue(session):
    orgs = _tree(session)
    with clock.frozen(datetime(2024, 11, 1, 9, 0)):
        _import(session)
        children = {orgs[name].id: {c.code: c for c in session.exec(select(Target).where(Target.org_id == orgs[name].id))}
                    for name in ("泉港区教育局", "丰泽区教育局", "鲤城区教育局")}
        quangang, fengze, licheng = (orgs[n] for n in ("泉港区教育局", "丰泽区教育局", "鲤城区教育局"))
        # 泉港: both its targets scored at 75 %; 丰泽: one at full marks, the other self-assessed;
        # 鲤城: nothing done (its targets fall overdue).
        _run_child(session, children[quangang.id]["1-1-1"], quangang, "scored", score=30, score_reason="部分完成")
        _run_child(session, children[quangang.id]["1-1-2"], quangang, "scored", score=22.5, score_reason="部分完成")
        _run_child(session, children[fengze.id]["1-1-1"], fengze, "scored", score=40)
        _run_child(session, children[fengze.id]["1-1-2"], fengze, "self_assessed")
    with clock.frozen(datetime(2024, 12, 5, 9, 0)):  # 1-1-2 (11月底前) is due, 1-1-1 (12月底前) is not
        ranks, statements = _statements(session, lambda: ranking.of(session=session, org_id=orgs[CITY].id, year=2024))
        assert statements == 1
        assert [(r.place, r.organisation, r.scored, r.score_rate) for r in ranks] == [
            (1, "丰泽区教育局", 1, Decimal("100.00")), (2, "泉港区教育局", 3 - 1, Decimal("75.00")),
            (3, "泉州第五中学", 0, None), (4, "鲤城区教育局", 0, None)]
        by_name = {r.organisation: r for r in ranks}
        assert (by_name["泉港区教育局"].targets, by_name["泉港区教育局"].due, by_name["泉港区教育局"].on_time) == (3, 1, 1)
        assert by_name["鲤城区教育局"].on_time_rate == Decimal("0.00") and by_name["鲤城区教育局"].overdue == 1
        assert by_name["丰泽区教育局"].on_time_rate == Decimal("100.00") and by_name["泉州第五中学"].targets == 0
        assert [r.organisation for r in ranking.ordered(ranks, "overdue")][-1] == "鲤城区教育局"
        assert [r.organisation for r in ranking.ordered(ranks, "on_time_rate")][:2] == ["丰泽区教育局", "泉港区教育局"]
        # The county's own ranking has nothing below it; another year has no targets.
        assert ranking.of(session=session, org_id=quangang.id) == []
        assert all(r.targets == 0 for r in ranking.of(session=session, org_id=orgs[CITY].id, year=2025))
