"""Hostile uploads against a real server: refused with the limit named while /healthz keeps answering."""
from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlmodel import Session

from engine.people import users
from engine.store import schema
from engine.store.db import make_engine
from tests.api import bombs
from tests.api.serving import serving
from tests.conftest import blank_database

PASSWORD = "upload-test-1"
HEALTHY_WITHIN = 1.0  # seconds: the bound for /healthz while a bad upload is being refused
#: In one test process (``--dist loadgroup``), so that each kind of database gets one server.
pytestmark = pytest.mark.xdist_group("uploads")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request, tmp_path_factory):
    """One server per database kind for the module's uploads: each is a dry run, so the database stays as set up
    (a database of its own, migrated here)."""
    folder = tmp_path_factory.mktemp("uploads")
    url = blank_database(request.param, folder, "uploads")
    schema.upgrade(url)
    bind = make_engine(url)
    with Session(bind) as session:
        users.add(session=session, name="绩效办", roles=["office"], password=PASSWORD)
        session.commit()
    bind.dispose()
    with serving({"KAOPING_DATABASE_URL": url, "KAOPING_SECRET_KEY": "upload-test-secret",
                  "KAOPING_FILES_DIR": str(folder / "files")}, folder / "server.log") as base:
        yield base


class HealthWatch:
    """Polls /healthz from its own thread until stopped; remembers the slowest answer and any failure."""

    def __init__(self, base: str) -> None:
        self.base, self.slowest, self.failures, self.polls = base, 0.0, [], 0
        self._stop = threading.Event()
        self._polled = threading.Condition()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        with httpx.Client(base_url=self.base, timeout=HEALTHY_WITHIN * 5) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    status = client.get("/healthz").status_code
                except httpx.HTTPError as exc:
                    status = repr(exc)
                took = time.monotonic() - started
                with self._polled:
                    self.slowest, self.polls = max(self.slowest, took), self.polls + 1
                    if status != 200:
                        self.failures.append(status)
                    self._polled.notify_all()
                self._stop.wait(0.05)

    def more_polls(self, count: int) -> None:
        """Wait until ``count`` more polls have answered (an event, not a time)."""
        with self._polled:
            wanted = self.polls + count
            assert self._polled.wait_for(lambda: self.polls >= wanted, timeout=120), "/healthz stopped being polled"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


def _upload(base: str, headers, name: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/plans/import", headers=headers, files={"file": (name, data)},
                      data={"dry_run": "true", "plan_year": "2024", "org": "测试局"}, timeout=300)


@pytest.mark.parametrize("name, data, status, limit", [
    ("bomb.yaml", bombs.yaml_bomb(), 422, "别名（*引用）超过"),
    ("wide.yaml", bombs.yaml_bomb(levels=6), 422, "展开后的内容超过"),
    ("cells.xlsx", bombs.xlsx_bomb(200_000), 413, "单元格"),
    ("unpacked.xlsx", bombs.xlsx_bomb(20_000, padding=2000), 413, "MiB"),
])
def test_a_bomb_is_refused_while_the_server_keeps_answering(server, name, data, status, limit):
    login = httpx.post(f"{server}/api/v1/auth/token", data={"username": "绩效办", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    with HealthWatch(server) as watch:
        response = _upload(server, headers, name, data)
        watch.more_polls(3)  # a few polls after the answer too
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert limit in response.json()["detail"]
    assert watch.polls >= 3 and not watch.failures
    assert watch.slowest < HEALTHY_WITHIN, f"/healthz took {watch.slowest:.2f} s during the upload"
    good = _upload(server, headers, "plan.yaml", ("targets: [{编号: '1', 年度目标: 一项工作, 权重分值: 100, 完成时限: 12月底, "
                                                  "责任科室: 规划科, 分管领导: 林长华}]").encode())
    assert good.status_code == 200, good.text  # and a good file still goes through
