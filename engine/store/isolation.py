"""Reading untrusted files in a child process with CPU-time and memory limits.

A hostile upload (a YAML alias bomb, a zip bomb) must never freeze the server: its parsing runs
in a separate Python process that sets its own ``RLIMIT_CPU`` and ``RLIMIT_AS`` before it reads
a byte of the file, and that is killed when it overruns its wall-clock time. A fresh interpreter
(not a fork of the server, which has threads and open connections) costs a fraction of a
second, which an upload can afford. At most ``upload_workers`` children run at once per server
process; further uploads wait their turn.

:func:`run` blocks its thread; call it from a worker thread, never on the event loop.
"""
from __future__ import annotations

import importlib
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from engine.store.config import settings
from engine.store.errors import LimitExceeded

_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None


def _gate() -> threading.BoundedSemaphore:
    global _slots
    with _lock:
        if _slots is None:
            _slots = threading.BoundedSemaphore(max(1, settings().upload_workers))
        return _slots


def limits_text() -> str:
    config = settings()
    return f"CPU 时间 {config.upload_cpu_seconds} 秒、内存 {config.upload_memory_mib} MiB"


def run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` in a limited child process; what it returns, or what it raised.

    ``func`` must be a module-level function, its arguments and result picklable. Raises
    :class:`LimitExceeded` (naming the limits) when the child runs out of CPU time, memory or
    wall-clock time, or dies.
    """
    config = settings()
    job = pickle.dumps((f"{func.__module__}:{func.__qualname__}", args, kwargs))
    command = [sys.executable, "-m", "engine.store.isolation", str(config.upload_cpu_seconds),
               str(config.upload_memory_mib * 1_048_576)]
    with _gate():
        child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:  # wall clock: the CPU time plus slack for a busy machine; a child blocked on nothing still ends
            out, _ = child.communicate(job, timeout=config.upload_cpu_seconds * 3 + 10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            out = pickle.dumps(("limit", "time"))
    try:
        kind, value = pickle.loads(out) if out else ("limit", "cpu" if child.returncode in (
            -signal.SIGXCPU, -signal.SIGKILL) else "memory")
    except (pickle.UnpicklingError, EOFError, ValueError):
        kind, value = "limit", "memory"
    if kind == "ok":
        return value
    if kind == "raised":
        raise value
    reason = {"memory": "内存", "depth": "嵌套层数", "time": "时间", "cpu": "CPU 时间"}[value]
    raise LimitExceeded(f"文件读取超出限制（{reason}）：每个文件最多用 {limits_text()}", limit=limits_text())


def _main(cpu_seconds: int, memory_bytes: int) -> None:
    """The child: limit itself, then read one job from stdin and write its outcome to stdout."""
    import resource

    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or memory_bytes < hard:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
    target, args, kwargs = pickle.loads(sys.stdin.buffer.read())
    try:
        module, _, name = target.partition(":")
        outcome: tuple[str, Any] = ("ok", getattr(importlib.import_module(module), name)(*args, **kwargs))
    except MemoryError:
        outcome = ("limit", "memory")
    except RecursionError:
        outcome = ("limit", "depth")
    except Exception as exc:  # noqa: BLE001 - the parent re-raises what the reader raised
        outcome = ("raised", exc)
    try:
        data = pickle.dumps(outcome)
        pickle.loads(data)  # an exception that does not come back whole is sent as its text
    except Exception:  # noqa: BLE001
        data = pickle.dumps(("raised", RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]}")))
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    _main(int(sys.argv[1]), int(sys.argv[2]))
