"""A target's progress over time, as its history recorded it."""
from __future__ import annotations

from datetime import date, timedelta

from engine.audit import chain
from engine.scoring.dashboard import progress_over_time
from tests import factories as f
from tests.engine.lifecycle import step


def _report(session, target_id, percent):
    step(session, target_id, "report_progress", f.STAFF, payload={"note": f"完成 {percent}%", "percent": percent})


def test_start_and_each_report_are_points_placed_by_their_time(session, frozen):
    target = f.target(session)
    assert progress_over_time(chain.history(session=session, target_id=target.id)) == []
    step(session, target.id, "start", f.STAFF)
    frozen.move(timedelta(days=30))
    _report(session, target.id, 20)
    _report(session, target.id, 30)
    frozen.move(timedelta(days=31))
    _report(session, target.id, 60)
    step(session, target.id, "self_assess", f.STAFF)  # no percent of its own: not a point
    points = progress_over_time(chain.history(session=session, target_id=target.id))
    assert [(p.percent, p.label) for p in points] == [(0, "开始推进"), (20, "报告进展"), (30, "报告进展"),
                                                      (60, "报告进展")]
    assert points[0].day == date(2024, 6, 3) and [p.x for p in points] == [0, 30 / 61, 30 / 61, 1]


def test_a_single_point_stands_in_the_middle(session):
    target = f.target(session)
    step(session, target.id, "start", f.STAFF)
    (point,) = progress_over_time(chain.history(session=session, target_id=target.id))
    assert (point.percent, point.x) == (0, 0.5)
