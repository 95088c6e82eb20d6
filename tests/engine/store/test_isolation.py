"""The limited child process that reads untrusted files: results and errors come back, overruns are stopped."""
from __future__ import annotations

import pytest

from engine.store import isolation
from engine.store.config import settings
from engine.store.errors import LimitExceeded


def burn_cpu() -> None:
    while True:
        pass


def eat_memory() -> list[bytes]:
    hoard = []
    while True:
        hoard.append(b"x" * 16_777_216)


def divide(a: int, b: int) -> float:
    return a / b


@pytest.fixture
def tight(monkeypatch):
    monkeypatch.setattr(settings(), "upload_cpu_seconds", 1)
    monkeypatch.setattr(settings(), "upload_memory_mib", 256)


def test_a_result_and_an_exception_come_back():
    assert isolation.run(divide, 3, b=4) == 0.75
    with pytest.raises(ZeroDivisionError):
        isolation.run(divide, 1, 0)


def test_a_child_that_spins_is_stopped_by_its_cpu_limit(tight):
    with pytest.raises(LimitExceeded) as refused:
        isolation.run(burn_cpu)
    assert "CPU 时间 1 秒" in refused.value.message


def test_a_child_that_hoards_memory_is_stopped_by_its_memory_limit(tight):
    with pytest.raises(LimitExceeded) as refused:
        isolation.run(eat_memory)
    assert "内存 256 MiB" in refused.value.message
