"""Random triggers by random actors: the engine's invariants hold whatever happens."""
from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlmodel import Session, func, select

from engine.audit import chain
from engine.workflow.definitions import get
from engine.store.errors import DomainError
from engine.store.models import Target, TransitionRecord
from tests import factories as f
from tests.engine.lifecycle import PAYLOADS

DEFINITION = get("target")
TRIGGERS = sorted({t.trigger for t in DEFINITION.transitions}) + ["to_scored", "approve"]
ACTORS = [f.STAFF, f.OTHER_STAFF, f.LEADER, f.LEADER_2, f.OTHER_LEADER, f.OFFICE, f.AUDITOR, f.ADMIN]
BAD_PAYLOADS = [{}, {"self_score": 99, "summary": "x"}, {"score": -1}, {"percent": 101, "note": "x"}, {"note": 5}]


def _machine(bind):
    class Lifecycle(RuleBasedStateMachine):
        @initialize()
        def setup(self):
            _empty(bind)  # each example starts from an empty history, so the counts are exact
            self.session = Session(bind, expire_on_commit=False)
            self.ids = [f.target(self.session, leaders=["林长华", "李自坚"]).id for _ in range(2)]
            self.successes = 0

        @rule(index=st.integers(0, 1), aimed=st.booleans(), pick=st.integers(0, 99),
              trigger=st.sampled_from(TRIGGERS), actor=st.sampled_from(ACTORS),
              good=st.booleans(), bad=st.sampled_from(BAD_PAYLOADS), version_skew=st.sampled_from([None, 0, -1]))
        def fire(self, index, aimed, pick, trigger, actor, good, bad, version_skew):
            from engine.workflow.commands import fire

            target_id = self.ids[index]
            before = self.session.get(Target, target_id)
            self.session.refresh(before)
            if aimed:  # half the time, a trigger that leaves this state, by someone whose role fits it
                spec = DEFINITION.triggers_from(before.state)[pick % len(DEFINITION.triggers_from(before.state))]
                trigger = spec.trigger
                actor = {"staff": f.STAFF, "leader": [f.LEADER, f.LEADER_2][pick % 2], "office": f.OFFICE}[spec.roles[0]]
            snapshot = (before.state, before.version, before.score, before.self_score, before.progress)
            payload, comment = PAYLOADS.get(trigger, ({}, "")) if good else (bad, "")
            expected = None if version_skew is None else before.version + version_skew
            try:
                fired = fire(session=self.session, target_id=target_id, trigger=trigger, actor=actor,
                             payload=payload, comment=comment, expected_version=expected)
            except DomainError:
                after = self.session.get(Target, target_id)
                self.session.refresh(after)
                assert (after.state, after.version, after.score, after.self_score, after.progress) == snapshot
                return
            self.successes += 1
            assert fired.target.version == snapshot[1] + 1
            assert fired.record.from_state == snapshot[0] and fired.record.to_state == fired.target.state

        @invariant()
        def states_are_defined(self):
            for target_id in getattr(self, "ids", []):
                assert self.session.get(Target, target_id).state in DEFINITION.states

        @invariant()
        def one_record_per_success(self):
            if not hasattr(self, "ids"):
                return
            records = self.session.exec(select(func.count()).select_from(TransitionRecord)
                                        .where(TransitionRecord.kind == "transition")).one()
            assert records == self.successes
            for target_id in self.ids:
                target = self.session.get(Target, target_id)
                count = self.session.exec(select(func.count()).select_from(TransitionRecord)
                                          .where(TransitionRecord.target_id == target_id,
                                                 TransitionRecord.kind == "transition")).one()
                assert target.version == count + 1

        @invariant()
        def chain_verifies(self):
            if hasattr(self, "ids"):
                assert chain.verify(self.session).ok

        def teardown(self):
            if hasattr(self, "session"):
                self.session.close()

    return Lifecycle


def test_random_lifecycles(engine_db):
    machine = settings(max_examples=30, stateful_step_count=40, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow])(_machine(engine_db))
    machine.TestCase().runTest()


def _empty(bind):
    from sqlalchemy import text

    from tests.conftest import TABLES

    with bind.begin() as conn:
        for table in TABLES:
            conn.execute(text(f'DELETE FROM "{table}"'))
        conn.execute(text("INSERT INTO chainhead (id, count, last_id, last_hash) VALUES (1, 0, 0, :h)"), {"h": "0" * 64})
