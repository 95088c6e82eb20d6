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
