"""Messages about work that has moved on are marked done (已办结): by the change itself, or on late delivery."""
from __future__ import annotations

from sqlmodel import select

from engine.people import inbox
from engine.store.models import InboxItem, User
from notifications import dispatch
from tests import factories as f
from tests.engine.lifecycle import step
from tests.notifications.test_dispatch import NO_CHANNELS, people  # noqa: F401  (fixture)


def _inbox(session, name):
    session.rollback()  # a fresh snapshot (the dispatcher writes in its own session) …
    session.expire_all()  # … and fresh objects: the change marks messages done with one UPDATE
    user = session.exec(select(User).where(User.name == name)).one()
    return session.exec(select(InboxItem).where(InboxItem.user_id == user.id).order_by(InboxItem.id)).all()


def test_a_signature_marks_the_request_to_sign_done_for_the_signer_then_for_everyone(session, engine_db, people):
    t = f.target(session, code="1-2-1", leaders=("林长华", "李自坚"))
    step(session, t.id, "start", f.STAFF)
    step(session, t.id, "self_assess", f.STAFF)
    dispatch.dispatch(engine_db, NO_CHANNELS)
    (lin,), (li,) = _inbox(session, "林长华"), _inbox(session, "李自坚")
    assert lin.done_at is None and li.done_at is None
    step(session, t.id, "sign", f.LEADER)  # 林长华 has done his part; 李自坚 still has to sign
    assert _inbox(session, "林长华")[0].done_at is not None and _inbox(session, "李自坚")[0].done_at is None
    step(session, t.id, "sign", f.LEADER_2)
    assert _inbox(session, "李自坚")[0].done_at is not None
    dispatch.dispatch(engine_db, NO_CHANNELS)
    (verify,) = _inbox(session, "绩效办")  # the next step's message is open
    assert verify.subject.startswith("【待核验】") and verify.done_at is None
    user = session.exec(select(User).where(User.name == "林长华")).one()
    assert inbox.items(session=session, user_id=user.id, open_only=True)[1] == 0
    assert inbox.items(session=session, user_id=user.id)[1] == 1


def test_a_message_delivered_after_its_target_moved_on_arrives_done(session, engine_db, people, frozen):
    from datetime import timedelta

    t = f.target(session, code="1-1-1")
    step(session, t.id, "start", f.STAFF)
    step(session, t.id, "self_assess", f.STAFF)  # 林长华 is to be told …
    frozen.move(timedelta(hours=1))
    step(session, t.id, "return", f.LEADER)  # … but he returned it before the dispatcher ran
    dispatch.dispatch(engine_db, NO_CHANNELS)
    (late,) = _inbox(session, "林长华")
    assert late.subject.startswith("【待审签】") and late.done_at is not None
    (returned,) = _inbox(session, "洪玮玮")
    assert returned.done_at is None  # the return asks 洪玮玮 to act: open
    session.rollback()
    assert session.exec(select(InboxItem).where(InboxItem.done_at.is_(None))).all() == [returned]


def test_whoever_made_the_change_is_not_told_of_it(session, engine_db, people):
    t = f.target(session, code="1-3-1", leaders=("林长华",), persons=("洪玮玮", "林长华"))
    step(session, t.id, "start", f.STAFF)
    step(session, t.id, "self_assess", f.STAFF)
    step(session, t.id, "return", f.LEADER)  # the responsible persons are told: 洪玮玮, not 林长华 who returned it
    dispatch.dispatch(engine_db, NO_CHANNELS)
    assert [i.subject[:5] for i in _inbox(session, "林长华")] == ["【待审签】"]
    assert len(_inbox(session, "洪玮玮")) == 1
