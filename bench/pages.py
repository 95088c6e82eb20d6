"""Page benchmark: every page of every role, with the shipped 2024 plan loaded, on a real `kaoping serve`.

    python bench/pages.py [--repeat 20]

Prints the median and the slowest response time of each page (the target is under a second).
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from engine.store import schema  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.plans.demo import DEMO_PASSWORD, set_up  # noqa: E402
from engine.store.models import Target  # noqa: E402

ROLES = {"staff": "黄洺鋆", "leader": "李自坚", "office": "绩效办", "auditor": "审计员"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kaoping-pages-"))
    url = f"sqlite:///{folder / 'pages.db'}"
    schema.upgrade(url)
    bind = make_engine(url)
    with Session(bind) as session:
        set_up(session)
        target_id = session.exec(select(Target.id).where(Target.code == "1-2-1")).one()
    bind.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KAOPING_DATABASE_URL": url, "KAOPING_SCHEDULER": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(Path(__file__).parents[1]))
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        pages = ["/", "/targets", "/targets?overdue=true&sort=weight", f"/targets/{target_id}", "/workflows",
                 "/workflows/target", "/inbox", "/audit", "/audit?check=true"]
        worst = 0.0
        for role, name in ROLES.items():
            with httpx.Client(base_url=base, timeout=30) as client:
                csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
                client.post("/login", data={"username": name, "password": DEMO_PASSWORD, "csrf": csrf})
                for path in pages:
                    times = []
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        response = client.get(path, follow_redirects=False)
                        times.append(time.perf_counter() - started)
                    worst = max(worst, max(times))
                    print(f"{role:8} {path:38} {response.status_code}  median {statistics.median(times) * 1000:6.1f} ms"
                          f"  slowest {max(times) * 1000:6.1f} ms  ({len(response.content) // 1024} KB)")
        print(f"slowest page of all: {worst * 1000:.0f} ms (target: under 1000 ms)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
