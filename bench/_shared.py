"""What the benchmarks share: fresh databases, bulk-loaded targets, the lifecycle through fire()."""
from __future__ import annotations

import atexit
import os
import sys
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from engine.people import organisations
from engine.audit import chain  # noqa: E402
from engine.calendar import clock
from engine.workflow import definitions
from engine.store import schema
from engine.people.actors import Actor  # noqa: E402
from engine.workflow.commands import fire  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import Assignment, Milestone, Plan, Target  # noqa: E402

STAFF = Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}))
LEADER = Actor("林长华", frozenset({"leader"}))
OFFICE = Actor("绩效办", frozenset({"office"}))
LIFECYCLE = [
    ("start", STAFF, {}),
    ("self_assess", STAFF, {"self_score": 1.5, "summary": "全年目标基本完成"}),
    ("sign", LEADER, {}),
    ("verify", OFFICE, {}),
    ("score", OFFICE, {"score": 1.8, "deductions": [{"points": 0.2, "reason": "进度滞后"}]}),
]
#: The PostgreSQL database a benchmark creates: ``KAOPING_BENCH_PG_DB``, or a name of its own
#: per run, so that two runs on one server never drop each other's database.
BENCH_PG_DB = os.environ.get("KAOPING_BENCH_PG_DB") or f"kaoping_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
_created: list[str] = []


def fresh_database(kind: str, pg_admin: str, *, suffix: str = "") -> str:
    """A new, migrated database: a SQLite file in a temporary folder, or a PostgreSQL database
    this run creates (``BENCH_PG_DB`` + ``suffix``), dropped again when the run ends."""
    if kind == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp(prefix='kaoping-bench-')}/bench.db"
    else:
        name = BENCH_PG_DB + suffix
        admin = make_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if name in _created:  # only ever a database of this run
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        if name not in _created:
            _created.append(name)
            atexit.register(_drop, pg_admin, name)
        url = make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
    schema.upgrade(url)
    return url


def _drop(pg_admin: str, name: str) -> None:
    admin = make_engine(pg_admin, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    except Exception as exc:  # noqa: BLE001 - a leftover database is reported, not fatal
        print(f"could not drop {name}: {exc}", file=sys.stderr)
    admin.dispose()


def load_targets(url: str, count: int) -> list[int]:
    """Insert ``count`` targets in ``assigned`` quickly (bulk), as an import would leave them."""
    bind = make_engine(url)
    definition = definitions.get("target")
    now = clock.to_db(clock.now())
    with Session(bind) as session:
        organisation, _ = organisations.for_plan(session, "泉州市教育局")
        plan = Plan(org_id=organisation.id, org="泉州市教育局", year=2024, title="基准测试")
        session.add(plan)
        session.flush()
        session.add(Milestone(plan_id=plan.id, key="self_assessment_signed", label="自评", due_date=date(2024, 12, 30)))
        session.add(Milestone(plan_id=plan.id, key="evaluation", label="评估", due_date=date(2025, 1, 10)))
        batch = 5000
        for start in range(0, count, batch):
            rows = [dict(plan_id=plan.id, org_id=plan.org_id, workflow="target", code=f"B-{i}", text="基准目标", weight=Decimal(2),
                         deadline_phrase="12月底前", due_date=date(2024, 12, 31), state=definition.initial,
                         state_due=date(2024, 12, 31), state_entered_at=now, version=1, supervised=False,
                         progress=0, created_at=now, updated_at=now, category="", indicator="", basis="")
                    for i in range(start, min(count, start + batch))]
            session.execute(insert(Target), rows)
        session.flush()
        ids = list(session.exec(select(Target.id).order_by(Target.id)))
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            session.execute(insert(Assignment), [dict(target_id=i, kind=k, name=n, position=0) for i in chunk
                                                 for k, n in (("section", "规划科"), ("leader", "林长华"), ("person", "洪玮玮"))])
        session.commit()
    bind.dispose()
    return ids


def run_lifecycles(url: str, ids: list[int]) -> float:
    """Fire the whole lifecycle on each target; returns transitions per second."""
    return measure_lifecycles(url, ids)["rate"]


def counted_engine(url: str):
    """An engine for ``url`` and a one-item list counting the statements it sends (BEGIN not counted)."""
    from sqlalchemy import event

    bind = make_engine(url)
    statements = [0]

    @event.listens_for(bind, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith("BEGIN"):
            statements[0] += 1

    return bind, statements


def measure_lifecycles(url: str, ids: list[int]) -> dict:
    """Fire the whole lifecycle on each target; transitions per second, the statements sent
    per fire (BEGIN and COMMIT not counted) and the process's CPU time per fire."""
    bind, statements = counted_engine(url)

    fires = len(ids) * len(LIFECYCLE)
    with Session(bind, expire_on_commit=False) as session:
        statements[0] = 0
        cpu, started = time.process_time(), time.perf_counter()
        for target_id in ids:
            for trigger, actor, payload in LIFECYCLE:
                fire(session=session, target_id=target_id, trigger=trigger, actor=actor, payload=payload)
            session.expunge_all()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        sent = statements[0]
        assert chain.verify(session).ok
    bind.dispose()
    return {"rate": fires / elapsed, "statements": sent / fires, "cpu_ms": cpu * 1000 / fires, "fires": fires}


def measure_grouped(url: str, ids: list[int], *, threads: int = 16, size: int = 10) -> dict:
    """The lifecycle of each target, ``threads`` targets at a time from threads of their own, through one
    group writer taking at most ``size`` fires per transaction: as :func:`measure_lifecycles`, with the
    fires per commit."""
    import threading

    from engine.workflow.writer import GroupWriter

    bind, statements = counted_engine(url)

    writer = GroupWriter(bind, size=size)
    shares = [ids[n::threads] for n in range(threads)]

    def run(share):
        for target_id in share:
            for trigger, actor, payload in LIFECYCLE:
                writer.fire(target_id=target_id, trigger=trigger, actor=actor, payload=payload)

    workers = [threading.Thread(target=run, args=(share,)) for share in shares]
    fires = len(ids) * len(LIFECYCLE)
    cpu, started = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    writer.close()
    with Session(bind) as session:
        assert chain.verify(session).ok
    bind.dispose()
    return {"rate": fires / elapsed, "statements": statements[0] / fires, "cpu_ms": cpu * 1000 / fires,
            "per_commit": writer.fires / max(1, writer.batches)}
