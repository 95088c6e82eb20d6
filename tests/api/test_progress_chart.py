"""The target page draws the progress over time as inline SVG (no script, nothing fetched)."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from tests import factories as f
from tests.api.test_evidence_rights import _login
from tests.engine.lifecycle import step


def test_the_target_page_draws_each_reported_percent(api, two_targets, engine_db, frozen):
    mine = two_targets[0]
    with Session(engine_db) as session:
        step(session, mine, "start", f.STAFF)
        frozen.move(timedelta(days=20))
        step(session, mine, "report_progress", f.STAFF, payload={"note": "过半", "percent": 55})
    _login(api, "洪玮玮")
    page = api.get(f"/targets/{mine}").text
    chart = page[page.index('data-testid="chart-progress"'):]
    chart = chart[:chart.index("</figure>")]
    assert "<svg" in chart and chart.count("<circle") == 2 and "<script" not in chart
    assert "6月3日 开始推进 0%" in chart and "6月23日 报告进展 55%" in chart  # what a screen reader hears
    assert "H" in chart[chart.index('<path d="'):]  # a step line: the progress holds until the next report


def test_a_target_without_a_report_draws_no_chart(api, two_targets, engine_db):
    _login(api, "洪玮玮")
    assert 'data-testid="chart-progress"' not in api.get(f"/targets/{two_targets[0]}").text
    with Session(engine_db) as session:
        step(session, two_targets[0], "start", f.STAFF)  # one point, at 0 %: nothing to compare yet
    page = api.get(f"/targets/{two_targets[0]}").text
    assert 'data-testid="chart-progress"' not in page
    assert "escalation_level" not in page  # the replay's copy of the target stays out of the history
