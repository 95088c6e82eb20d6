"""The report's overdue counts judge each target by the deadlines of the version it runs on."""
from __future__ import annotations

from datetime import date, datetime

from engine.calendar import clock
from engine.scoring.overdue import overdue_at
from engine.workflow import deployments
from tests import factories as f
from tests.engine.lifecycle import step
from tests.engine.schedule.test_deployed_versions import V2


def test_overdue_counts_follow_each_targets_version(session):
    deployments.deploy_shipped(session=session)
    with clock.frozen(datetime(2024, 9, 2, 9)) as moving:
        old = f.target(session, due_date=date(2024, 9, 30))
        deployments.deploy(session=session, definition_text=V2, filename="target-v2.yaml")
        new = f.target(session, due_date=date(2024, 9, 30))
        step(session, old.id, "start", f.STAFF)
        step(session, new.id, "start", f.STAFF)
        moving.move(datetime(2024, 10, 8, 9, tzinfo=clock.ZONE) - clock.now())
        session.expire_all()
        assert (old.workflow_version, new.workflow_version) == (1, 2)
        # 16 September: version 2's 推进中 was due ten working days after 2 September (14 September);
        # version 1's keeps the target's deadline, 30 September. 1 October: both are late.
        days = [date(2024, 9, 16), date(2024, 10, 1)]
        assert overdue_at(session=session, targets=[old], days=days) == [0, 1]
        assert overdue_at(session=session, targets=[new], days=days) == [1, 1]
        assert overdue_at(session=session, targets=[old, new], days=days) == [1, 2]
