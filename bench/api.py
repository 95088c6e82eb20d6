"""API benchmark: a real ``kaoping serve`` on loopback, 1, 8 and 32 concurrent clients, full lifecycles.

    python bench/api.py [--clients 1,8,32] [--targets 640] [--workers 1,2] [--pg postgresql://postgres@127.0.0.1:5432/test]

Prints transitions per second, p50, p95 and p99 latency for SQLite and PostgreSQL at each
number of clients and of server processes (``--workers``), and the ratio to the in-process engine rate (fire() without HTTP)
measured in the same run, the server's CPU (its processes', from /proc) and the load generator's own CPU per
transition (each client keeps one HTTP/1.1 connection alive); first, what the database sees per HTTP transition (statements,
round trips, pings, BEGIN, COMMIT) and the server's CPU per transition, counted in process.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from _shared import LIFECYCLE, fresh_database, load_targets, run_lifecycles  # noqa: E402
from sqlmodel import Session  # noqa: E402

from engine.people import users  # noqa: E402
from engine.store.db import make_engine  # noqa: E402

PASSWORD = "bench-password-1"
PEOPLE = {"洪玮玮": (["staff"], ["规划科"]), "林长华": (["leader"], []), "绩效办": (["office"], [])}
WHO = {"start": "洪玮玮", "self_assess": "洪玮玮", "sign": "林长华", "verify": "绩效办", "score": "绩效办"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_people(url: str) -> None:
    bind = make_engine(url)
    with Session(bind) as session:
        for name, (roles, sections) in PEOPLE.items():
            users.add(session=session, name=name, roles=roles, sections=sections, password=PASSWORD)
        session.commit()
    bind.dispose()


class Connection:
    """One kept-alive HTTP/1.1 connection, the least a client needs (a request, its status and JSON body), so the
    load generator costs the machine little beside the server it measures (httpx costs several ms a request)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, headers: dict[str, str], body: dict) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        content = json.dumps(body, ensure_ascii=False).encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(content)}\r\n{head}\r\n".encode() + content)
        lines = (await self.reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status, length, close = int(lines[0].split()[1]), 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        answer = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, answer

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def drive(base: str, ids: list[int], clients: int, pid: int) -> tuple[float, list[float], float, float]:
    """Elapsed seconds, each transition's latency, the server's and the load generator's CPU seconds (logins not
    counted). Each client keeps one connection alive."""
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        tokens = {}
        for name in PEOPLE:
            r = await http.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            tokens[name] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    address = httpx.URL(base)
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for target_id in ids:
        queue.put_nowait(target_id)

    async def client():
        connection = Connection(address.host, address.port)
        try:
            while not queue.empty():
                target_id, version = queue.get_nowait(), 1
                for trigger, _, payload in LIFECYCLE:
                    started = time.perf_counter()
                    status, answer = await connection.post_json(
                        f"/api/v1/targets/{target_id}/transitions", {**tokens[WHO[trigger]], "If-Match": f'"{version}"'},
                        {"trigger": trigger, "payload": payload})
                    latencies.append(time.perf_counter() - started)
                    if status != 200:
                        raise SystemExit(f"{trigger} on {target_id}: {status} {answer.decode()}")
                    version = json.loads(answer)["version"]
        finally:
            await connection.close()

    cpu, own, started = server_cpu(pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return time.perf_counter() - started, latencies, server_cpu(pid) - cpu, time.process_time() - own


def count_requests(url: str, ids: list[int]) -> dict[str, float]:
    """In process (the application on a test client, one caller): what the database sees per HTTP
    transition: statements, connection check-outs (each a ping with ``pool_pre_ping``), BEGIN, COMMIT,
    ROLLBACK, SAVEPOINT; and the server's CPU per transition."""
    from collections import Counter

    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from api.app import create_app

    bind = make_engine(url)
    seen: Counter[str] = Counter()

    @event.listens_for(bind, "before_cursor_execute")
    def _statement(_conn, _cursor, statement, *_args):
        head = statement.lstrip().upper()
        if head.startswith("BEGIN"):
            seen["begin"] += 1
        elif head.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            seen["savepoint_statements"] += 1  # SAVEPOINT, its RELEASE or ROLLBACK TO
        else:
            seen["statements"] += 1

    for name in ("commit", "rollback"):
        event.listen(bind, name, lambda *_a, _name=name: seen.update([_name]))
    if bind.dialect.name != "sqlite":  # the driver begins by itself; SQLite's BEGIN is a statement of ours
        event.listen(bind, "begin", lambda *_a: seen.update(["begin"]))
    event.listen(bind.pool, "checkout", lambda *_a: seen.update(["checkouts"]))
    with TestClient(create_app(bind)) as http:
        tokens = {name: {"Authorization": "Bearer " + http.post("/api/v1/auth/token", data={
            "username": name, "password": PASSWORD}).json()["access_token"]} for name in PEOPLE}
        seen.clear()
        cpu = time.process_time()
        for target_id in ids:
            version = 1
            for trigger, _, payload in LIFECYCLE:
                r = http.post(f"/api/v1/targets/{target_id}/transitions", json={"trigger": trigger, "payload": payload},
                              headers={**tokens[WHO[trigger]], "If-Match": f'"{version}"'})
                if r.status_code != 200:
                    raise SystemExit(f"{trigger} on {target_id}: {r.status_code} {r.text}")
                version = r.json()["version"]
        cpu = time.process_time() - cpu
    bind.dispose()
    fires = len(ids) * len(LIFECYCLE)
    out = {key: value / fires for key, value in seen.items()}
    out["pings"] = out.get("checkouts", 0) if bind.pool._pre_ping else 0.0
    out["round_trips"] = sum(out.get(key, 0) for key in ("statements", "savepoint_statements", "begin", "commit",
                                                          "rollback", "pings"))
    out["cpu_ms"] = cpu * 1000 / fires
    return out


def serve(url: str, workers: int, access_log: bool = True) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "KAOPING_DATABASE_URL": url, "KAOPING_SECRET_KEY": "bench-secret", "KAOPING_SCHEDULER": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers),
                             *([] if access_log else ["--no-access-log"])],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=str(Path(__file__).resolve().parents[1]))
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def server_cpu(pid: int) -> float:
    """CPU seconds (user and system) the server process and its worker processes have used so far (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,8,32", help="numbers of concurrent clients, one run each")
    parser.add_argument("--targets", type=int, default=640)
    parser.add_argument("--workers", default="1,2", help="numbers of server processes, one server each")
    parser.add_argument("--pg", default=os.environ.get("KAOPING_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--no-access-log", action="store_true", help="serve without the access log")
    parser.add_argument("--counted", type=int, default=40, help="targets whose lifecycles are counted in process")
    args = parser.parse_args()
    counts = [int(n) for n in args.clients.split(",")]
    workers = [int(n) for n in args.workers.split(",")]
    runs = [(w, clients) for w in workers for clients in counts]
    for kind in args.backends.split(","):
        url = fresh_database(kind, args.pg)
        ids = load_targets(url, args.targets * (len(runs) + 1) + args.counted)
        add_people(url)
        counted = ids[len(ids) - args.counted:]
        ids = ids[:len(ids) - args.counted]
        c = count_requests(url, counted)
        print(f"{kind}: per HTTP transition (in process, 1 caller): {c['statements']:.1f} statements, "
              f"{c['round_trips']:.1f} round trips ({c['pings']:.1f} pings, {c.get('begin', 0):.1f} BEGIN, "
              f"{c.get('commit', 0):.2f} COMMIT, {c.get('rollback', 0):.2f} ROLLBACK, "
              f"{c.get('savepoint_statements', 0):.1f} SAVEPOINT/RELEASE/ROLLBACK TO), {c['cpu_ms']:.1f} ms CPU")
        engine_rate = run_lifecycles(url, ids[-args.targets:])  # in process, same database, other targets
        proc = None
        try:
            for number, (processes, clients) in enumerate(runs):
                if number == 0 or processes != runs[number - 1][0]:
                    if proc is not None:
                        stop(proc)
                    proc, base = serve(url, processes, access_log=not args.no_access_log)
                chunk = ids[number * args.targets:(number + 1) * args.targets]
                elapsed, latencies, cpu, own = asyncio.run(drive(base, chunk, clients, proc.pid))
                rate = len(latencies) / elapsed
                cuts = statistics.quantiles(latencies, n=100)
                print(f"{kind}: {clients:>2} clients: {rate:,.0f} transitions/s over HTTP ({processes} workers, "
                      f"{len(latencies):,} transitions); p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, "
                      f"p99 {cuts[98] * 1000:.1f} ms; server CPU {cpu * 1000 / len(latencies):.1f} ms, "
                      f"load generator CPU {own * 1000 / len(latencies):.1f} ms per transition; "
                      f"in-process engine {engine_rate:,.0f}/s; HTTP/engine = {rate / engine_rate:.2f}", flush=True)
        finally:
            if proc is not None:
                stop(proc)


if __name__ == "__main__":
    main()
