"""Deployments: what running on a deployed version costs in fire(), and how long a deploy and a migration take.

Deploys the shipped definitions (version 1) and a version 2 of ``target``, creates targets on both
versions, and fires ``start`` on each: prints the SQL statements per fire for a target on version 1
and on version 2 (they must be the same: a deployed version is read once per process), the time per
fire, the time of one deploy, and of a migration of every version-1 target.

    .venv/bin/python bench/deployments.py [--targets 2000] [--db sqlite|postgres]
"""
from __future__ import annotations

import argparse
import time

from _shared import STAFF, fresh_database
from sqlalchemy import event
from sqlmodel import Session

from engine.workflow import definitions, deployments
from engine.workflow.commands import fire
from engine.store.db import make_engine
from tests import factories as f

V2 = definitions.source_text("target").replace("in_progress", "working")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=2000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    url = fresh_database(args.db, args.pg_admin, suffix="_deployments")
    bind = make_engine(url)
    statements = []
    event.listen(bind, "before_cursor_execute", lambda *a, **k: statements.append(1))
    with Session(bind, expire_on_commit=False) as session:
        deployments.deploy_shipped(session=session)
        old = [f.target(session, code=f"old-{i}", commit=False).id for i in range(args.targets // 2)]
        session.commit()
        started = time.perf_counter()
        deployments.deploy(session=session, definition_text=V2, filename="target-v2.yaml")
        deploy_ms = (time.perf_counter() - started) * 1000
        new = [f.target(session, code=f"new-{i}", commit=False).id for i in range(args.targets // 2)]
        session.commit()
        per_fire = {}
        for label, ids in (("version 1", old), ("version 2", new)):
            fire(session=session, target_id=ids[0], trigger="start", actor=STAFF)  # each version read once
            statements.clear()
            started = time.perf_counter()
            for target_id in ids[1:]:
                fire(session=session, target_id=target_id, trigger="start", actor=STAFF)
            seconds = time.perf_counter() - started
            per_fire[label] = (len(statements) / (len(ids) - 1), seconds / (len(ids) - 1) * 1000)
        started = time.perf_counter()
        moved = deployments.migrate(session=session, workflow_id="target", from_version=1, to_version=2,
                                    mapping={"in_progress": "working"})
        migrate_s = time.perf_counter() - started
    bind.dispose()
    print(f"database: {args.db}, targets: {args.targets}")
    for label, (count, ms) in per_fire.items():
        print(f"fire(start) on {label}: {count:.1f} statements, {ms:.2f} ms per fire")
    print(f"deploy of version 2: {deploy_ms:.1f} ms")
    print(f"migration of {len(moved)} targets from version 1 to 2: {migrate_s:.2f} s ({migrate_s / len(moved) * 1000:.2f} ms each)")


if __name__ == "__main__":
    main()
