"""Logging in: the client gate counts atomically, names known and unknown are answered alike,
the right password gets through a name's lock."""
from __future__ import annotations

import threading

import pytest
from sqlmodel import Session

from engine.people import accounts, users

PASSWORD = "right-password-7"


@pytest.fixture
def person(engine_db):
    with Session(engine_db) as session:
        users.add(session=session, name="洪玮玮", roles=["staff"], password=PASSWORD)
        session.commit()


def _try(engine_db, name: str, password: str, client: str = "10.0.0.1"):
    with Session(engine_db, expire_on_commit=False) as session:
        try:
            return accounts.authenticate(session=session, name=name, password=password, client=client)
        except accounts.DomainError as exc:
            return exc


def test_parallel_guesses_are_counted_before_any_password_is_checked(engine_db, person, frozen):
    # The clock stands still: the wait after the budget (1 s) does not run out while the guesses queue up.
    admitted, refused, lock = [], [], threading.Lock()
    barrier = threading.Barrier(16)

    def guess():
        with Session(engine_db) as session:
            barrier.wait()
            try:
                attempt = accounts.admit(session=session, name="洪玮玮", client="10.0.0.9")
                with lock:
                    admitted.append(attempt)
            except accounts.LoginThrottled:
                with lock:
                    refused.append(1)

    threads = [threading.Thread(target=guess) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(admitted) == accounts.CLIENT_FREE_FAILURES  # exactly the budget, however the race goes
    assert len(refused) == 16 - accounts.CLIENT_FREE_FAILURES


def test_known_and_unknown_names_are_answered_alike(engine_db, person, frozen):
    answers = {}
    for name in ("洪玮玮", "无此人"):
        answers[name] = [type(_try(engine_db, name, "wrong", client=f"c-{name}")).__name__ for _ in range(4)]
    assert answers["洪玮玮"] == answers["无此人"] == ["LoginFailed"] * 3 + ["LoginThrottled"]


def test_the_right_password_gets_through_a_locked_name(engine_db, person, frozen):
    for _ in range(5):
        _try(engine_db, "洪玮玮", "wrong", client="attacker")
    wrong = _try(engine_db, "洪玮玮", "wrong", client="attacker")
    assert isinstance(wrong, accounts.LoginThrottled) and wrong.details["retry_after"] >= 1
    assert _try(engine_db, "洪玮玮", PASSWORD, client="her-desk").name == "洪玮玮"


def test_a_client_over_its_budget_waits_whatever_names_it_tries(engine_db, person, frozen):
    for n in range(accounts.CLIENT_FREE_FAILURES):
        assert isinstance(_try(engine_db, f"人{n}", "wrong", client="sprayer"), accounts.LoginFailed)
    held = _try(engine_db, "洪玮玮", PASSWORD, client="sprayer")
    assert isinstance(held, accounts.LoginThrottled)
    assert _try(engine_db, "洪玮玮", PASSWORD, client="elsewhere").name == "洪玮玮"
    frozen.move(accounts.FORGET_AFTER * 2)
    assert _try(engine_db, "洪玮玮", PASSWORD, client="sprayer").name == "洪玮玮"
