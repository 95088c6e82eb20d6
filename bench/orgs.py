"""Organisations at a province's scale on PostgreSQL: 1,000 organisations in three levels (a province,
10 city bureaus, 99 county bureaus under each), 200,000 targets (half of them handed down) and 2,000,000
transition records, bulk-loaded with Core. Then, for a county staff member, a county office, a city office
(99 descendants) and the province office: the home page's data, the target list with filters, the ranking
and one roll-up — median of N runs, and the statements each sends. Prints the EXPLAIN of each one's
slowest statement.

    .venv/bin/python bench/orgs.py                 # the full size (loading takes a while)
    .venv/bin/python bench/orgs.py --scale 0.1     # a tenth of the targets and records (all 1,001 organisations)
    .venv/bin/python bench/orgs.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/test --runs 15
"""
from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, insert, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bench._shared import fresh_database  # noqa: E402
from engine.calendar import clock  # noqa: E402
from engine.people.actors import Actor  # noqa: E402
from engine.scoring import dashboard, ranking, rollup  # noqa: E402
from engine.store.db import make_engine  # noqa: E402
from engine.store.models import Assignment, Milestone, Organisation, Plan, Target, TransitionRecord  # noqa: E402
from engine.workflow import targets  # noqa: E402

STATES = ("assigned", "in_progress", "self_assessed", "leader_signed", "verified", "scored")
BATCH = 10_000
YEAR = 2024


def _orgs(session: Session, cities: int, counties: int) -> dict[str, list[int]]:
    """The tree, inserted with Core; its paths set from the ids."""
    levels: dict[str, list[int]] = {"province": [], "bureau": [], "county": []}
    province = Organisation(name="福建省教育厅", kind="province", path="")
    session.add(province)
    session.flush()
    province.path = f"{province.id}/"
    levels["province"].append(province.id)
    for c in range(cities):
        city = Organisation(name=f"第{c + 1}市教育局", kind="bureau", parent_id=province.id, path="")
        session.add(city)
        session.flush()
        city.path = f"{province.path}{city.id}/"
        levels["bureau"].append(city.id)
        rows = [dict(name=f"第{c + 1}市第{k + 1}县教育局", kind="county", parent_id=city.id, path="",
                     created_at=clock.to_db(clock.now())) for k in range(counties)]
        session.execute(insert(Organisation), rows)
        session.flush()
        ids = list(session.exec(select(Organisation.id).where(Organisation.parent_id == city.id)))
        session.execute(text("UPDATE organisation SET path = :p || id || '/' WHERE parent_id = :c"),
                        {"p": city.path, "c": city.id})
        levels["county"] += ids
    session.flush()
    return levels


def _plan(session: Session, org_id: int, name: str) -> int:
    plan = Plan(org_id=org_id, org=name, year=YEAR, title=f"{name}{YEAR}年度绩效目标")
    session.add(plan)
    session.flush()
    session.add(Milestone(plan_id=plan.id, key="self_assessment_signed", label="自评", due_date=date(YEAR, 12, 30)))
    session.add(Milestone(plan_id=plan.id, key="evaluation", label="评估", due_date=date(YEAR + 1, 1, 10)))
    return plan.id


def _row(i: int, plan_id: int, org_id: int, parent_id: int | None, now) -> dict:
    state = STATES[i % len(STATES)]
    due = date(YEAR, 3 + i % 10, 28)
    scored = state == "scored"
    return dict(plan_id=plan_id, org_id=org_id, parent_id=parent_id, workflow="target", code=f"B-{i}", text="基准目标",
                weight=Decimal(2), deadline_phrase="12月底前", due_date=due, state=state,
                state_due=None if scored else (due if state in ("assigned", "in_progress") else date(YEAR, 12, 30)),
                state_entered_at=now, version=1, supervised=i % 97 == 0, progress=(i * 7) % 101, created_at=now,
                updated_at=now, category="", indicator="", basis="", rollup="",
                score=Decimal(1 + i % 2) if scored else None, self_score=None, escalation_level=0, entry=1,
                extra_columns={}, checkpoints=[], supervised_against=[])


def load(url: str, *, scale: float, records: int) -> dict:
    """Build the tree, the plans, the targets and their assignments, and the transition records."""
    bind = make_engine(url)
    now = clock.to_db(clock.now())
    # The tree is always full size (1 + 10 + 990); the targets and records scale.
    counties = 99
    own_province = own_city = max(10, round(1000 * scale))
    handed_per_city, own_county = max(1, round(100 * scale)), max(1, round(91 * scale))
    started = time.perf_counter()
    with Session(bind) as session:
        levels = _orgs(session, 10, counties)
        names = dict(session.exec(select(Organisation.id, Organisation.name)).all())
        plans = {org: _plan(session, org, names[org]) for org in names}
        session.flush()
        serial = [0]

        def rows_for(org: int, count: int, parent: int | None = None):
            out = []
            for _ in range(count):
                serial[0] += 1
                out.append(_row(serial[0], plans[org], org, parent, now))
            return out

        def write(rows):
            for start in range(0, len(rows), BATCH):
                session.execute(insert(Target), rows[start:start + BATCH])

        province = levels["province"][0]
        write(rows_for(province, own_province))
        session.flush()
        province_down = list(session.exec(select(Target.id).where(Target.org_id == province).order_by(Target.id).limit(10)))
        write([r for p in province_down for city in levels["bureau"] for r in rows_for(city, 1, p)])
        for city in levels["bureau"]:
            write(rows_for(city, own_city))
            session.flush()
            down = list(session.exec(select(Target.id).where(Target.org_id == city, Target.parent_id.is_(None))
                                     .order_by(Target.id).limit(handed_per_city)))
            children = session.exec(select(Organisation.id).where(Organisation.parent_id == city)).all()
            write([r for p in down for county in children for r in rows_for(county, 1, p)])
        for county in levels["county"]:
            write(rows_for(county, own_county))
        session.flush()
        ids = list(session.exec(select(Target.id).order_by(Target.id)))
        for start in range(0, len(ids), BATCH):
            session.execute(insert(Assignment), [dict(target_id=i, kind=k, name=n, position=0) for i in ids[start:start + BATCH]
                                                 for k, n in (("section", "基教股"), ("leader", "分管局长"),
                                                              ("person", "经办人"))])
        per_target = max(1, records // len(ids))
        previous, record_id = "0" * 64, 0
        for start in range(0, len(ids), BATCH // per_target or 1):
            chunk, rows = ids[start:start + (BATCH // per_target or 1)], []
            for target_id in chunk:
                for n in range(per_target):
                    record_id += 1
                    digest = hashlib.sha256(f"{record_id}".encode()).hexdigest()
                    rows.append(dict(id=record_id, target_id=target_id, kind="transition", actor="经办人", role="staff",
                                     trigger="report_progress", from_state="in_progress", to_state="in_progress",
                                     at=now - timedelta(minutes=n), comment="", payload={}, prev_hash=previous,
                                     hash=digest))
                    previous = digest
            session.execute(insert(TransitionRecord), rows)
        session.execute(text("UPDATE chainhead SET count = :n, last_id = :n, last_hash = :h WHERE id = 1"),
                        {"n": record_id, "h": previous})
        session.commit()
    with bind.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    bind.dispose()
    return {"organisations": len(names), "targets": len(ids), "records": record_id,
            "load_seconds": round(time.perf_counter() - started, 1), "levels": levels, "counties_per_city": counties}


class Statements:
    """The statements a piece of work sends (BEGIN/COMMIT aside), each with its time."""

    def __init__(self, bind):
        self.bind, self.seen = bind, []

    def __enter__(self):
        event.listen(self.bind, "before_cursor_execute", self._before)
        event.listen(self.bind, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *_exc):
        event.remove(self.bind, "before_cursor_execute", self._before)
        event.remove(self.bind, "after_cursor_execute", self._after)

    def _before(self, _conn, _cursor, statement, parameters, *_args):
        self._started = time.perf_counter()

    def _after(self, _conn, _cursor, statement, parameters, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
            self.seen.append((time.perf_counter() - self._started, statement, parameters))


def measure(bind, work, runs: int) -> dict:
    """Median and worst of ``runs`` runs of ``work(session)`` (each in a fresh session), its statements and
    its slowest statement."""
    times, counts, slowest = [], [], (0.0, "", None)
    for _ in range(runs):
        with Session(bind, expire_on_commit=False) as session, Statements(bind) as seen:
            started = time.perf_counter()
            work(session)
            times.append(time.perf_counter() - started)
        counts.append(len(seen.seen))
        top = max(seen.seen, key=lambda s: s[0], default=(0.0, "", None))
        slowest = max(slowest, top, key=lambda s: s[0])
    return {"median_ms": round(1000 * statistics.median(times), 1), "max_ms": round(1000 * max(times), 1),
            "statements": max(counts), "slowest": slowest}


def explain(bind, statement: str, parameters) -> str:
    with bind.connect() as conn:
        cursor = conn.connection.cursor()
        cursor.execute("EXPLAIN " + statement, parameters)
        # Long IN lists are cut: the plan's shape is what matters.
        return "\n".join("    " + (row[0] if len(row[0]) <= 200 else row[0][:200] + " …") for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--scale", type=float, default=1.0, help="share of the full size (targets and records)")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    url = fresh_database("postgresql", args.pg, suffix="_orgs")
    loaded = load(url, scale=args.scale, records=round(2_000_000 * args.scale))
    bind = make_engine(url)
    levels = loaded["levels"]
    with Session(bind) as session:
        handed = session.exec(text("SELECT count(*) FROM target WHERE parent_id IS NOT NULL")).one()[0]
        city = levels["bureau"][0]
        county = session.exec(select(Organisation.id).where(Organisation.parent_id == city).order_by(Organisation.id)).first()
        city_parent = session.exec(select(Target).where(Target.org_id == city, Target.parent_id.is_(None))
                                   .order_by(Target.id)).first()
        province_parent = session.exec(select(Target).where(Target.org_id == levels["province"][0])
                                       .order_by(Target.id)).first()
        county_child = session.exec(select(Target).where(Target.org_id == county, Target.parent_id.is_not(None))).first()
    print(f"organisations {loaded['organisations']} (1 province, 10 cities, {loaded['counties_per_city']} counties each); "
          f"targets {loaded['targets']} ({handed} handed down); transition records {loaded['records']}; "
          f"loaded in {loaded['load_seconds']} s")
    who = {
        "county staff": Actor("经办人", frozenset({"staff"}), frozenset({"基教股"}), org_id=county),
        "county office": Actor("绩效办", frozenset({"office"}), org_id=county),
        "city office": Actor("绩效办", frozenset({"office"}), org_id=city),
        "province office": Actor("绩效办", frozenset({"office"}), org_id=levels["province"][0]),
    }
    parent_of = {"county staff": county_child, "county office": county_child, "city office": city_parent,
                 "province office": province_parent}
    plan_of = {}
    with Session(bind) as session:
        for name, actor in who.items():
            plan_of[name] = session.exec(select(Plan.id).where(Plan.org_id == actor.org_id)).one()
    results = []
    for name, actor in who.items():
        home = dashboard.staff_home if "staff" in actor.roles else dashboard.office_home
        cases = {
            "home page": lambda s, a=actor, h=home: h(s, a),
            "target list (plan, state, overdue)": lambda s, n=name: targets.search(
                session=s, filters=targets.TargetFilter(plan_id=plan_of[n], state="in_progress", overdue=True),
                limit=50, offset=0),
            "ranking": lambda s, a=actor: ranking.of(session=s, org_id=a.org_id, year=YEAR),
            "roll-up": lambda s, n=name: rollup.of(session=s, target=s.get(Target, parent_of[n].id)),
        }
        for case, work in cases.items():
            found = measure(bind, work, args.runs)
            results.append((name, case, found))
            print(f"{name:16} {case:36} median {found['median_ms']:8.1f} ms  max {found['max_ms']:8.1f} ms  "
                  f"statements {found['statements']}")
    print("\nEXPLAIN of the slowest statement of each (first run's parameters):")
    shown = set()
    for name, case, found in results:
        _, statement, parameters = found["slowest"]
        if not statement or (case, statement) in shown:
            continue
        shown.add((case, statement))
        print(f"\n-- {name}: {case} ({found['slowest'][0] * 1000:.1f} ms)\n    {' '.join(statement.split())[:300]}")
        print(explain(bind, statement, parameters))
    bind.dispose()


if __name__ == "__main__":
    main()
