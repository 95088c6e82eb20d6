"""A served process keeps what start-up made out of the collector's sight; an application made for tests does not."""
from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from api.app import YOUNG_COLLECTION, create_app


@pytest.fixture
def collector():
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_served_application_settles_its_memory_once_started(engine_db, collector):
    app = create_app(engine_db, settle=True)
    assert gc.get_freeze_count() == 0  # made, not started
    with TestClient(app) as http:
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == YOUNG_COLLECTION
        assert http.get("/healthz").json() == {"status": "ok"}


def test_an_application_made_for_tests_leaves_the_collector_alone(engine_db, collector):
    threshold = gc.get_threshold()
    with TestClient(create_app(engine_db)) as http:
        assert http.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == threshold


def test_a_served_application_warms_up_before_its_first_request(engine_db, collector, monkeypatch):
    from api import app as served

    warmed = []
    monkeypatch.setattr(served.commands, "warm", warmed.append)
    with TestClient(create_app(engine_db, settle=True)) as http:
        assert warmed == [engine_db]  # once started, before any request
        assert http.get("/healthz").json() == {"status": "ok"}
    assert warmed == [engine_db]
    with TestClient(create_app(engine_db)) as http:  # made for tests: no warming up
        assert http.get("/healthz").status_code == 200
    assert warmed == [engine_db]


@pytest.mark.parametrize("failure", ["database", "key file"])
def test_a_warm_up_that_fails_does_not_stop_the_server(engine_db, collector, monkeypatch, caplog, failure):
    from sqlalchemy.exc import OperationalError

    from api import app as served

    def unreachable(_engine):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    def empty_key(_state):
        raise RuntimeError("签名密钥文件 kaoping.key 是空的")

    if failure == "database":
        monkeypatch.setattr(served.commands, "warm", unreachable)
    else:
        monkeypatch.setattr(served.deps, "warm", empty_key)
    with TestClient(create_app(engine_db, settle=True)) as http:
        assert http.get("/healthz").json() == {"status": "ok"}  # reachable again by now: it serves
    assert any("启动预热未完成" in r.getMessage() for r in caplog.records)
