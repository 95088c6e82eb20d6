"""Read benchmark: the pages people open every day, on PostgreSQL with many targets and records.

    python bench/reads.py [--targets 20000] [--records 200000] [--repeat 3]
                          [--pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--reuse URL] [--keep]

The data is made by the server itself (``INSERT … SELECT FROM generate_series``): one organisation's
plan of ``--targets`` targets spread over six states, due dates from a month ago to three months on
(some overdue, some due soon), one in fifty under 督办, one in forty with a warning; ten sections and
five leaders (the staff member's section has a tenth of the targets, the leader a fifth); and
``--records`` transition records on them, with the chain head's count to match. The full size is
``--targets 100000 --records 1000000``.

``--reuse URL`` times a database made before (made there first if it has no targets yet); ``--keep``
keeps the database this run makes and prints its URL. Each page is fetched ``--repeat`` times in
process (the application on the database, no server) after one warm-up; the median and the slowest
time are printed with the size of the page. For a before/after comparison, run the same database
with another checkout's code first on the path:

    PYTHONPATH=/path/to/other/checkout python bench/reads.py --reuse URL
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path

# Not this folder (its engine.py is a benchmark, not the package); the project after PYTHONPATH, so that
# another checkout put first is the one measured.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KAOPING_SCHEDULER", "false")

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session  # noqa: E402

import engine  # noqa: E402
from api.app import create_app  # noqa: E402
from engine.people import organisations, users  # noqa: E402
from engine.store import schema  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import Milestone, Plan  # noqa: E402

PASSWORD = "bench-reads-password"
SECTIONS = ["规划科", "财务科", "办公室", "基础教育科", "职成教科", "人事科", "安全科", "体卫艺科", "督导室", "法规科"]
LEADERS = ["林长华", "庄映峰", "李自坚", "陈建", "王芳"]
PEOPLE = {"洪玮玮": (["staff"], ["规划科"]), "林长华": (["leader"], []), "绩效办": (["office"], []),
          "审计员": (["auditor"], [])}
STATES = ["assigned", "in_progress", "self_assessed", "leader_signed", "verified", "scored"]


def _database(pg: str, name: str) -> str:
    admin = make_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg).set(database=name).render_as_string(hide_password=False)


def generate(url: str, targets: int, records: int) -> None:
    """The plan, its people, ``targets`` targets and ``records`` records, made by the server in bulk."""
    schema.upgrade(url)
    bind = make_engine(url)
    started = time.perf_counter()
    with Session(bind) as session:
        organisation, _ = organisations.for_plan(session, "泉州市教育局")
        plan = Plan(org_id=organisation.id, org="泉州市教育局", year=date.today().year, title="读取基准")
        session.add(plan)
        session.flush()
        for key, label in (("self_assessment_signed", "自评"), ("evaluation", "评估")):
            session.add(Milestone(plan_id=plan.id, key=key, label=label, due_date=date(plan.year, 12, 30)))
        hashed = users.hash_password(PASSWORD)
        for name, (roles, sections) in PEOPLE.items():
            users.add(session=session, name=name, roles=roles, sections=sections).password_hash = hashed
        session.commit()
        org, plan_id = organisation.id, plan.id
    states = "ARRAY[" + ", ".join(f"'{s}'" for s in STATES) + "]"
    with bind.begin() as conn:
        conn.execute(text(f"""
            INSERT INTO target (plan_id, org_id, rollup, workflow, workflow_version, code, category, indicator, basis,
                text, weight, deadline_phrase, due_date, state, state_entered_at, state_due, entry, escalation_level,
                version, supervised, progress, created_at, updated_at, extra_columns, checkpoints, supervised_against,
                risk_level, risk_reason)
            SELECT :plan, :org, '', 'target', 1, 'R-' || g, '', '', '', '读取基准目标第 ' || g || ' 项', 2, '12月底前',
                make_date(:year, 12, 31), ({states})[1 + g % 6], now(), current_date + (g % 120 - 30), 1, 0,
                1, g % 50 = 0, 0, now(), now(), '{{}}', '[]', '[]', CASE WHEN g % 40 = 0 THEN 2 ELSE 0 END,
                CASE WHEN g % 40 = 0 THEN '进度滞后' ELSE '' END
            FROM generate_series(1, :n) AS g"""), {"plan": plan_id, "org": org, "year": date.today().year, "n": targets})
        # By runs of ids (not by id % n, which would tie a section to some states only).
        for kind, names, position, step in (("section", SECTIONS, 0, 6), ("leader", LEADERS, 0, 60),
                                            ("person", ["洪玮玮"], 0, 1)):
            array = "ARRAY[" + ", ".join(f"'{n}'" for n in names) + "]"
            conn.execute(text(f"INSERT INTO assignment (target_id, kind, name, position) "
                              f"SELECT id, :kind, ({array})[1 + (id / {step}) % {len(names)}], {position} FROM target"),
                         {"kind": kind})
        first = conn.execute(text("SELECT min(id) FROM target")).scalar()
        conn.execute(text("""
            INSERT INTO transitionrecord (org_id, seq, target_id, kind, actor, role, trigger, from_state, to_state, at,
                comment, payload, prev_hash, hash)
            SELECT :org, g, :first + g % :n, 'transition', '洪玮玮', 'staff', 'report_progress', 'in_progress',
                'in_progress', now() - make_interval(secs => :m - g), '', '{"percent": 50}',
                CASE WHEN g = 1 THEN repeat('0', 64) ELSE md5((g - 1)::text) || md5('h' || (g - 1)) END,
                md5(g::text) || md5('h' || g)
            FROM generate_series(1, :m) AS g"""), {"org": org, "first": first, "n": targets, "m": records})
        conn.execute(text("DELETE FROM chainhead"))
        conn.execute(text("INSERT INTO chainhead (id, count, last_id, last_hash) SELECT org_id, count(*), max(id), "
                          "max(hash) FROM transitionrecord GROUP BY org_id"))
    with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    bind.dispose()
    print(f"made {targets} targets and {records} records in {time.perf_counter() - started:.1f} s")


def _login(client: TestClient, name: str) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    answer = client.post("/login", data={"username": name, "password": PASSWORD, "csrf": token, "next": "/"})
    assert answer.status_code == 303, f"{name} could not log in ({answer.status_code})"


def _deep_pages(bind, count: int) -> list[tuple[str, str, str]]:
    """The target list's second-last page by offset and by keyset (after the row before it), by due date and
    by weight; by keyset only with code that has it."""
    from engine.workflow import targets as listing
    page = max(1, count // 50 - 1)
    found = []
    for sort in ("due", "weight"):
        found.append((f"list {sort} offset", "绩效办", f"/targets?sort={sort}&page={page}"))
        if page > 1 and hasattr(listing, "cursor"):
            with Session(bind) as session:
                (last,), _ = listing.search(session=session, filters=listing.TargetFilter(workflow="target"), limit=1,
                                            offset=(page - 1) * 50 - 1, sort=None if sort == "due" else sort)
                place = listing.cursor(last, None if sort == "due" else sort)
            found.append((f"list {sort} keyset", "绩效办", f"/targets?sort={sort}&page={page}&after={place}"))
    return found


def measure(url: str, repeat: int) -> None:
    bind = make_engine(url)
    with bind.connect() as conn:
        targets = conn.execute(text("SELECT count(*) FROM target")).scalar()
        records = conn.execute(text("SELECT max(id) FROM transitionrecord")).scalar() or 0
        some = conn.execute(text("SELECT id FROM target ORDER BY id OFFSET :n LIMIT 1"), {"n": targets // 2}).scalar()
    print(f"code from {Path(engine.__file__).resolve().parents[1]}; {targets} targets, {records} records")
    pages = [("staff home", "洪玮玮", "/"), ("leader home", "林长华", "/"), ("office home", "绩效办", "/"),
             ("target list", "绩效办", "/targets"),
             *_deep_pages(bind, targets),
             ("search", "绩效办", f"/targets?q=R-{targets // 3}"),
             ("audit first", "审计员", "/audit"), ("audit deep", "审计员", f"/audit?after={max(0, records - 60)}"),
             ("target page", "绩效办", f"/targets/{some}")]
    clients: dict[str, TestClient] = {}
    app = create_app(bind)
    with TestClient(app, follow_redirects=False) as base:
        for label, who, path in pages:
            if who not in clients:
                client = TestClient(app, follow_redirects=False)
                _login(client, who)
                clients[who] = client
            client = clients[who]
            answer = client.get(path)  # warm-up
            assert answer.status_code == 200, f"{path}: {answer.status_code}"
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                answer = client.get(path)
                times.append(time.perf_counter() - started)
            print(f"{label:18} {path[:48]:48} median {statistics.median(times) * 1000:8.1f} ms  slowest "
                  f"{max(times) * 1000:8.1f} ms  {len(answer.content) / 1024:8.1f} KB")
        del base
    bind.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=20_000)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server's URL (its database is only used to create the benchmark's)")
    parser.add_argument("--reuse", help="the URL of a database made by an earlier run")
    parser.add_argument("--keep", action="store_true", help="keep the database this run makes")
    args = parser.parse_args()
    if args.targets < 1 or args.records < 0 or args.repeat < 1:
        parser.error("--targets and --repeat must be at least 1, --records at least 0")
    url, made = args.reuse, None
    if url is None:
        made = os.environ.get("KAOPING_BENCH_PG_DB") or f"kaoping_bench_reads_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        url = _database(args.pg, made)
    bind = make_engine(url)
    with bind.connect() as conn:
        empty = not conn.execute(text("SELECT 1 FROM information_schema.tables WHERE table_name = 'target'")).first() \
            or not conn.execute(text("SELECT 1 FROM target LIMIT 1")).first()
    bind.dispose()
    try:
        if empty:
            generate(url, args.targets, args.records)
        measure(url, args.repeat)
    finally:
        if made and not args.keep:
            admin = make_engine(args.pg, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{made}"'))
            admin.dispose()
        elif made:
            print(f"kept: --reuse {url}")


if __name__ == "__main__":
    main()
