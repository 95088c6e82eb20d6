"""A real `kaoping serve` process on a free loopback port, for the tests that need one."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


@contextlib.contextmanager
def serving(env: dict[str, str], log: Path, *, workers: int = 1) -> Iterator[str]:
    """Start the server with ``env`` (the scheduler off), wait until /healthz answers, yield its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with log.open("wb") as output:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)],
                                env={**os.environ, "KAOPING_SCHEDULER": "false", **env},
                                stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            # It answers, or it exits: both are events. The bound only keeps a wedged start from hanging the run.
            deadline = time.monotonic() + 600
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("the server did not start: " + log.read_text(errors="replace"))
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=30)
