"""The staff home's queues read in SQL: 被退回 is a return or send-back not followed by another transition."""
from __future__ import annotations

from engine.scoring import dashboard
from engine.workflow import targets
from tests import factories as f
from tests.engine.lifecycle import step


def test_returned_is_the_latest_transition_and_the_target_list_agrees(session):
    started, returned, reworked, untouched = (f.target(session).id for _ in range(4))
    step(session, started, "start", f.STAFF)
    for target_id in (returned, reworked):
        step(session, target_id, "start", f.STAFF)
        step(session, target_id, "self_assess", f.STAFF)
        step(session, target_id, "return", f.LEADER)
    step(session, reworked, "report_progress", f.STAFF)  # worked on again since: no longer 被退回

    home = dashboard.staff_home(session, f.STAFF)
    queues = {q.key: [i.target.id for i in q.items] for q in home["queues"]}
    assert queues["returned"] == [returned]
    assert sorted(queues["going"] + queues["to-assess"]) == sorted([started, reworked])
    assert queues["to-start"] == [untouched]
    assert {q.key: q.count for q in home["queues"]} == {k: len(v) for k, v in queues.items()}
    # The target list of each queue (查看全部) lists the same targets.
    for key, ids in queues.items():
        found, total = targets.search(session=session, filters=targets.TargetFilter(), limit=50, offset=0,
                                      where=dashboard.queue_conditions(session, f.STAFF, key))
        assert sorted(t.id for t in found) == sorted(ids) and total == len(ids)
    # Nothing of the staff member's is a leader's list.
    assert dashboard.queue_conditions(session, f.STAFF, "to-sign") is None


def test_a_leaders_lists_count_what_waits_for_their_signature(session):
    waiting, signed = f.target(session, leaders=("林长华", "徐昌裕")).id, f.target(session, leaders=("林长华", "徐昌裕")).id
    for target_id in (waiting, signed):
        step(session, target_id, "start", f.STAFF)
        step(session, target_id, "self_assess", f.STAFF)
    step(session, signed, "sign", f.LEADER)  # the other leader has yet to sign: not mine to sign again

    home = dashboard.leader_home(session, f.LEADER)
    assert [i.target.id for i in home["waiting"]] == [waiting] and home["queues"][0].count == 1
    assert home["lists"]["led"].count == 2 and home["progress"] == [("已自评", 2)]
    other = dashboard.leader_home(session, f.OTHER_LEADER)
    assert sorted(i.target.id for i in other["waiting"]) == sorted([waiting, signed])


def test_each_lists_link_takes_the_plans_workflow_only_where_the_list_does(session):
    """The target list a home list links to (查看全部) narrows to the plan's workflow where the list holds the
    plan's targets only, and to none where it holds other workflows' too: it drops nothing the list holds."""
    plan_target = f.target(session, code="P-1").id
    report = f.target(session, code="R-1", workflow="report").id
    held = {}
    for key, spec in dashboard.QUEUES.items():
        actor = f.LEADER if spec.role == "leader" else f.STAFF
        where = dashboard.queue_conditions(session, actor, key)
        workflow = dashboard.queue_query(key)["workflow"] or None
        listed, _ = targets.search(session=session, filters=targets.TargetFilter(), limit=50, offset=0, where=where)
        linked, _ = targets.search(session=session, filters=targets.TargetFilter(workflow=workflow), limit=50,
                                   offset=0, where=where)
        assert [t.id for t in linked] == [t.id for t in listed], key
        assert (workflow == "target") == spec.plan, key
        held[key] = {t.id for t in listed}
    assert report in held["reports"] and plan_target in held["to-start"] and plan_target in held["led"]
    assert report not in held["section-targets"] | held["led"]
