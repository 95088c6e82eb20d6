"""Organisations at a province's scale on PostgreSQL, through the real app: 1,012 organisations in three
levels, 203,110 targets (100,110 handed down) and 2,031,100 transition records (see bench/_orgs_data.py).
Then, logged in as a county staff member, a county office, a city office (99 counties below it), the
office of a small city (10 counties) and the province office, each page — home, the target list with
filters, the evaluation report with the ranking, one target with its roll-up — is fetched through a
FastAPI TestClient: median and p95 per page, and the SQL statements each sends (counted with
``before_cursor_execute``). The small city's statements against the big city's show whether a page sends
more statements for more organisations (N+1). ``--explain`` prints EXPLAIN ANALYZE of each page's
slowest statements; without it, one line each (indexes used, rows, time).

    .venv/bin/python -P bench/orgs.py                 # the full size (loading takes a minute or two)
    .venv/bin/python -P bench/orgs.py --scale 0.1     # a tenth of the targets and records (all organisations)
    .venv/bin/python -P bench/orgs.py --runs 30 --explain
"""
from __future__ import annotations

import argparse
import atexit
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import event  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from api.app import create_app  # noqa: E402
from bench._orgs_data import CITIES, PROVINCE, SECTIONS, SMALL_CITY, load  # noqa: E402
from bench import _shared  # noqa: E402
from engine.people import users  # noqa: E402
from engine.store import schema  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import Assignment, Organisation, Plan, Target, User  # noqa: E402

PASSWORD = "bench-password-1"
GOAL_MS = 200
SKIPPED = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def load_avg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Statements:
    """The statements the app sends (BEGIN/COMMIT aside), each with its time and parameters."""

    def __init__(self, bind):
        self.bind, self.seen, self._started = bind, [], 0.0
        event.listen(bind, "before_cursor_execute", self._before)
        event.listen(bind, "after_cursor_execute", self._after)

    def _before(self, _conn, _cursor, statement, parameters, *_args):
        self._started = time.perf_counter()

    def _after(self, _conn, _cursor, statement, parameters, *_args):
        if not statement.lstrip().upper().startswith(SKIPPED):
            self.seen.append((time.perf_counter() - self._started, statement, parameters))

    def take(self) -> list:
        found, self.seen = self.seen, []
        return found


def _people(url: str) -> dict[str, dict]:
    """The people measured, each a user of their organisation, and what their pages are about."""
    bind = make_engine(url)
    hashed = users.hash_password(PASSWORD)
    with Session(bind) as session:
        def org(name: str) -> Organisation:
            return session.exec(select(Organisation).where(Organisation.name == name)).one()

        city, small, province = org("第1市教育局"), org(SMALL_CITY), org(PROVINCE)
        county = session.exec(select(Organisation).where(Organisation.parent_id == city.id)
                              .order_by(Organisation.id)).first()
        # The county's copy of a city target, of the staff member's section; each office's first target handed down.
        child = session.exec(select(Target.id).join(Assignment, Assignment.target_id == Target.id)
                             .where(Target.org_id == county.id, Target.parent_id.is_not(None),
                                    Assignment.kind == "section")
                             .order_by(Assignment.name != SECTIONS[0], Target.id)).first()

        def handed(organisation: Organisation) -> int:
            # In progress, as every office's: a page's statements then differ by the organisations alone.
            return session.exec(select(Target.id).where(Target.org_id == organisation.id, Target.parent_id.is_(None),
                                                        Target.state == "in_progress",
                                                        Target.id.in_(select(Target.parent_id)))
                                .order_by(Target.id)).first()

        people = {
            "county staff": (county, "经办人", ["staff"], [SECTIONS[0]], child),
            "county office": (county, "绩效办", ["office"], [], child),
            "city office": (city, "绩效办", ["office"], [], handed(city)),
            "small city office": (small, "绩效办", ["office"], [], handed(small)),
            "province office": (province, "绩效办", ["office"], [], handed(province)),
        }
        out = {}
        for who, (organisation, name, roles, sections, target_id) in people.items():
            login = f"{name}@{organisation.name}"
            if session.exec(select(User.id).where(User.login == login)).first() is None:  # (a database reused)
                user = users.add(session=session, name=name, roles=roles, sections=sections, org=organisation.name,
                                 login=login)
                user.password_hash = hashed
            plan_id = session.exec(select(Plan.id).where(Plan.org_id == organisation.id)).one()
            below = session.exec(select(Organisation.id).where(Organisation.path.startswith(organisation.path),
                                                               Organisation.id != organisation.id)).all()
            section = f"&section={SECTIONS[0]}" if "staff" in roles else ""
            out[who] = {"login": login, "descendants": len(below), "pages": {
                "home": "/",
                "target list, filtered": f"/targets?state=in_progress&overdue=true{section}",
                "ranking (API)": f"/api/v1/plans/{plan_id}/ranking",
                "ranking (report page)": f"/plans/{plan_id}/report",
                "roll-up (target page)": f"/targets/{target_id}",
            }}
        session.commit()
    bind.dispose()
    return out


def _login(client: TestClient, login: str) -> dict[str, str]:
    """Log ``login`` in to the pages (the client keeps the cookie); the header for the API."""
    client.cookies.clear()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    done = client.post("/login", data={"username": login, "password": PASSWORD, "csrf": csrf})
    if done.status_code != 303:
        raise SystemExit(f"{login} could not log in: {done.status_code}")
    token = client.post("/api/v1/auth/token", data={"username": login, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def measure(client: TestClient, seen: Statements, path: str, runs: int, headers: dict[str, str]) -> dict:
    """Median and p95 of ``runs`` fetches of ``path`` (after one to warm up), the statements of each and the
    slowest statements of the median run; the app's CPU time (this process: the app runs in it) and the time
    spent waiting for SQL, which tell the page's own cost from the machine's load."""
    response = client.get(path, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"{path}: {response.status_code} {response.text[:300]}")
    seen.take()
    times, cpu, counts, runs_seen = [], [], [], []
    for _ in range(runs):
        started, used = time.perf_counter(), time.process_time()
        client.get(path, headers=headers)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        statements = seen.take()
        counts.append(len(statements))
        runs_seen.append((times[-1], statements))
    median = statistics.median(times)
    middle = min(runs_seen, key=lambda r: abs(r[0] - median))[1]
    return {"median_ms": 1000 * median, "p95_ms": 1000 * statistics.quantiles(times, n=20)[18] if runs > 1 else 1000 * median,
            "cpu_ms": 1000 * statistics.median(cpu), "db_ms": 1000 * sum(s[0] for s in middle), "statements": max(counts), "fewest": min(counts), "kb": len(response.content) // 1024,
            "slowest": sorted(middle, key=lambda s: -s[0])[:2], "sent": [statement for _, statement, _ in middle]}


def explain(bind, statement: str, parameters, full: bool) -> list[str]:
    """EXPLAIN ANALYZE of ``statement`` as the app sent it: all its lines, or one line of what it used."""
    with bind.connect() as conn:
        cursor = conn.connection.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        lines = [row[0] for row in cursor.fetchall()]
        conn.rollback()
    if full:
        return ["      " + (line if len(line) <= 220 else line[:220] + " …") for line in lines]
    used = sorted({m.group(1) for line in lines for m in [re.search(r"(?:Index(?: Only)? Scan(?: Backward)? using|"
                                                                       r"Bitmap Index Scan on) (\w+)", line)] if m})
    scans = sorted({m.group(1) for line in lines for m in [re.search(r"Seq Scan on (\w+)", line)] if m})
    top = re.search(r"actual time=[\d.]+\.\.([\d.]+) rows=(\d+)", lines[0])
    took = next((line.split(":")[1].strip() for line in lines if line.startswith("Execution Time")), "?")
    return [f"      indexes {', '.join(used) or '—'}; seq scans {', '.join(scans) or '—'}; "
            f"rows {top.group(2) if top else '?'}; execution {took}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full size (targets and records)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--explain", action="store_true", help="print the whole EXPLAIN ANALYZE of each page's slowest statements")
    parser.add_argument("--only", metavar="WORDS", default="", help="measure only the pages whose name has WORDS")
    parser.add_argument("--statements", action="store_true", help="list each page's statements, the same ones counted")
    parser.add_argument("--keep", action="store_true", help="keep the database built (its URL is printed)")
    parser.add_argument("--reuse", metavar="URL", help="measure a database a run kept, building nothing")
    args = parser.parse_args()
    if args.reuse:
        url = args.reuse
        schema.upgrade(url)  # the migrations written since it was built
        print(f"reusing {url} (load average {load_avg()})")
    else:
        url = _shared.fresh_database("postgresql", args.pg, suffix="_orgs")
        if args.keep:
            atexit.unregister(_shared._drop)  # not dropped at the end
            print(f"keeping {url}")
        print(f"loading (load average {load_avg()}) …", flush=True)
        loaded = load(url, scale=args.scale, records=round(2_000_000 * args.scale))
        took = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in loaded["took"].items())
        print(f"organisations {loaded['organisations']} (1 province, {CITIES} cities of 99 counties, 1 of 10); "
              f"targets {loaded['targets']} ({loaded['handed down']} handed down); transition records "
              f"{loaded['records']}\nbuilt in {sum(loaded['took'].values()):.1f} s ({took}); "
              f"load average {load_avg()}\n", flush=True)
    people = _people(url)
    bind = make_engine(url)
    try:
        report(bind, people, args)
    finally:
        bind.dispose()


def report(bind, people: dict, args) -> None:
    seen = Statements(bind)
    results = []
    with TestClient(create_app(bind), raise_server_exceptions=True, follow_redirects=False) as client:
        for who, person in people.items():
            headers = _login(client, person["login"])
            print(f"{who} ({person['descendants']} organisations below; load average {load_avg()})")
            for page, path in person["pages"].items():
                if args.only not in page:
                    continue
                found = measure(client, seen, path, args.runs, headers if path.startswith("/api/") else {})
                results.append((who, page, path, found))
                mark = "" if found["median_ms"] < GOAL_MS else f"   over {GOAL_MS} ms"
                print(f"  {page:28} median {found['median_ms']:7.1f} ms  p95 {found['p95_ms']:7.1f} ms  "
                      f"(app CPU {found['cpu_ms']:6.1f} ms, in SQL {found['db_ms']:6.1f} ms)  "
                      f"statements {found['statements']:3}  {found['kb']:4} KB{mark}", flush=True)
    print(f"\nload average after the runs: {load_avg()}")
    by = {(who, page): found for who, page, _, found in results}
    print("\nstatements per page: the office of a city of 10 counties against one of 99 (N+1 if they differ), "
          "and the province's (1,011 below):")
    for page in people["city office"]["pages"]:
        if args.only not in page:
            continue
        counts = [by[(who, page)]["statements"] for who in ("small city office", "city office", "province office")]
        print(f"  {page:28} {counts[0]:3} / {counts[1]:3}  {'same' if counts[0] == counts[1] else 'GROWS'};"
              f"  province {counts[2]:3}")
    if args.statements:
        for who, page, path, found in results:
            print(f"\n  -- {who}: {page} {path}")
            for statement, times in Counter(" ".join(s.split())[:150] for s in found["sent"]).most_common():
                print(f"    {times:3} × {statement}")
    slow = [(who, page) for (who, page), found in by.items() if found["median_ms"] >= GOAL_MS]
    print(f"\npages at or over {GOAL_MS} ms at the median: {', '.join(' / '.join(s) for s in slow) or 'none'}")
    print("\nEXPLAIN ANALYZE of each page's two slowest statements (of its median run):")
    for who, page, path, found in results:
        for seconds, statement, parameters in found["slowest"]:
            print(f"\n  -- {who}: {page} {path} — {seconds * 1000:.1f} ms\n    {' '.join(statement.split())[:240]}")
            print("\n".join(explain(bind, statement, parameters, args.explain)))


if __name__ == "__main__":
    main()
