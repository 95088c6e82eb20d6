"""The data of bench/orgs.py: a province's deployment, built inside PostgreSQL (``INSERT … SELECT
generate_series``), so that 200,000 targets and 2,000,000 transition records take a minute or two.

The tree is a province, ten city bureaus of 99 county bureaus each and one small city bureau of ten
(1,012 organisations: the small city shows whether a page's statements grow with the organisations it
shows). Every organisation has a plan for this year. The province hands ten of its targets down to
every city, each city hands 100 of its own down to every one of its counties, and every organisation has
targets of its own (province and cities 1,000, counties 91): 203,110 targets, 100,110 of them handed
down. Each target has a section (one of three), a leader and a person, and ten transition records in its
organisation's audit chain (2,031,100). The records' hashes
are unique stand-ins, not a chain that verifies: no page measured here verifies the chain.
"""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import bindparam, text

from engine.calendar import clock
from engine.store.db import make_engine

PROVINCE = "福建省教育厅"
CITIES, COUNTIES, SMALL_COUNTIES = 10, 99, 10
SMALL_CITY = f"第{CITIES + 1}市教育局"
SECTIONS = ("基教股", "职成股", "规划股")
STATES = ("assigned", "in_progress", "self_assessed", "leader_signed", "verified", "scored")
HANDED_BY_PROVINCE = 10

_TARGET_COLUMNS = (
    "plan_id, org_id, parent_id, rollup, workflow, workflow_version, code, category, indicator, basis, text, weight, "
    "deadline_phrase, due_date, state, state_entered_at, state_due, entry, escalation_level, version, supervised, "
    "progress, score, created_at, updated_at, extra_columns, checkpoints, supervised_against, risk_level, risk_reason")
# From a source s(plan_id, org_id, parent_id, code, n): a target whose state, deadline, progress and score
# follow n. Deadlines run from 150 days before today to 120 after, so half of the open ones are overdue.
_TARGETS = f"""
INSERT INTO target ({_TARGET_COLUMNS})
SELECT s.plan_id, s.org_id, s.parent_id, '', 'target', 1, s.code, '', '', '', '基准目标', 2,
       '年底前', s.due, st.state, :now,
       CASE WHEN st.state = 'scored' THEN NULL
            WHEN st.state IN ('assigned', 'in_progress') THEN s.due ELSE CAST(:milestone AS date) END,
       1, 0, 1, s.n % 97 = 0, (s.n * 7) % 101,
       CASE WHEN st.state = 'scored' THEN 1 + s.n % 2 END, :now, :now, '{{}}', '[]', '[]',
       CASE WHEN s.n % 53 = 0 THEN 1 ELSE 0 END, ''
FROM (SELECT src.*, CAST(:today AS date) + ((src.n % 10) * 30 - 150) AS due FROM (SOURCE) AS src) AS s
CROSS JOIN LATERAL (SELECT (ARRAY{list(STATES)})[1 + s.n % {len(STATES)}] AS state) AS st
"""
_OWN = """SELECT p.id AS plan_id, o.id AS org_id, CAST(NULL AS integer) AS parent_id, :prefix || g AS code,
                 g + o.id * 1000 AS n
          FROM organisation o JOIN plan p ON p.org_id = o.id CROSS JOIN generate_series(1, :count) g
          WHERE o.kind = :kind"""
_HANDED = """SELECT p.id AS plan_id, c.id AS org_id, t.id AS parent_id, t.code AS code, t.id + c.id AS n
             FROM target t JOIN organisation up ON up.id = t.org_id AND up.kind = :kind
             JOIN organisation c ON c.parent_id = up.id JOIN plan p ON p.org_id = c.id
             WHERE t.parent_id IS NULL AND CAST(substr(t.code, 3) AS integer) <= :count"""


def _tree(conn, now) -> None:
    province = conn.execute(text("INSERT INTO organisation (name, kind, parent_id, path, created_at) "
                                 "VALUES (:name, 'province', NULL, '', :now) RETURNING id"),
                            {"name": PROVINCE, "now": now}).scalar_one()
    conn.execute(text("UPDATE organisation SET path = id || '/' WHERE id = :p"), {"p": province})
    conn.execute(text("INSERT INTO organisation (name, kind, parent_id, path, created_at) "
                      "SELECT '第' || g || '市教育局', 'bureau', :p, '', :now FROM generate_series(1, :n) g"),
                 {"p": province, "now": now, "n": CITIES + 1})
    conn.execute(text("UPDATE organisation o SET path = up.path || o.id || '/' FROM organisation up "
                      "WHERE o.parent_id = up.id AND up.id = :p"), {"p": province})
    conn.execute(text("INSERT INTO organisation (name, kind, parent_id, path, created_at) "
                      "SELECT replace(c.name, '教育局', '') || '第' || g || '县教育局', 'county', c.id, '', :now "
                      "FROM organisation c CROSS JOIN LATERAL generate_series(1, CASE WHEN c.name = :small "
                      "THEN :few ELSE :many END) g WHERE c.parent_id = :p ORDER BY c.id, g"),
                 {"p": province, "now": now, "small": SMALL_CITY, "few": SMALL_COUNTIES, "many": COUNTIES})
    conn.execute(text("UPDATE organisation o SET path = up.path || o.id || '/' FROM organisation up "
                      "WHERE o.parent_id = up.id AND up.parent_id = :p"), {"p": province})


def _plans(conn, now, today) -> None:
    conn.execute(text("INSERT INTO plan (org_id, org, year, title, timezone, categories, scoring, supervision, "
                      "created_at) SELECT id, name, :year, name || :year || '年度绩效目标', 'Asia/Shanghai', "
                      "'{}', '{}', '{}', :now FROM organisation ORDER BY id"),
                 {"year": today.year, "now": now})
    conn.execute(text("INSERT INTO milestone (plan_id, key, label, phrase, due_date) "
                      "SELECT p.id, v.key, v.label, '', CAST(:today AS date) + v.days FROM plan p CROSS JOIN "
                      "(VALUES ('self_assessment_signed', '自评审签', 28), ('evaluation', '考评', 40)) "
                      "AS v(key, label, days)"), {"today": today})


def _targets(conn, now, today, scale: float) -> None:
    params = {"now": now, "today": today, "milestone": today + timedelta(days=28)}

    def own(kind: str, prefix: str, count: int) -> None:
        conn.execute(text(_TARGETS.replace("SOURCE", _OWN)), {**params, "kind": kind, "prefix": prefix, "count": count})

    def handed(kind: str, count: int) -> None:
        conn.execute(text(_TARGETS.replace("SOURCE", _HANDED)), {**params, "kind": kind, "count": count})

    own("province", "P-", max(10, round(1000 * scale)))
    handed("province", HANDED_BY_PROVINCE)
    own("bureau", "S-", max(100, round(1000 * scale)))
    handed("bureau", max(1, round(100 * scale)))
    own("county", "X-", max(1, round(91 * scale)))
    conn.execute(text("INSERT INTO assignment (target_id, kind, name, position) "
                      "SELECT t.id, v.kind, CASE WHEN v.kind = 'section' THEN (ARRAY[:a, :b, :c])[1 + t.id % 3] "
                      "ELSE v.name END, 0 FROM target t CROSS JOIN (VALUES ('section', ''), ('leader', '分管局长'), "
                      "('person', '经办人')) AS v(kind, name) ORDER BY t.id"),
                 dict(zip("abc", SECTIONS, strict=True)))


def _records(conn, now, records: int) -> None:
    """``records`` records in all, as many for each target, numbered in their organisation's chain."""
    per_target = max(1, round(records / conn.execute(text("SELECT count(*) FROM target")).scalar_one()))
    conn.execute(text(
        "INSERT INTO transitionrecord (org_id, seq, target_id, kind, actor, role, trigger, from_state, to_state, "
        "at, comment, payload, prev_hash, hash) "
        "SELECT t.org_id, row_number() OVER (PARTITION BY t.org_id ORDER BY t.id, g), t.id, 'transition', '经办人', "
        "'staff', CASE WHEN g = 1 THEN 'start' ELSE 'report_progress' END, "
        "CASE WHEN g = 1 THEN 'assigned' ELSE 'in_progress' END, 'in_progress', "
        "CAST(:now AS timestamp) - make_interval(days => :per - g), '', "
        "CASE WHEN g = 1 THEN json_build_object() ELSE json_build_object('percent', (g * 10) % 101) END, '', "
        "md5(t.id || '-' || g) || md5(g || '-' || t.id) "
        "FROM target t CROSS JOIN generate_series(1, :per) g ORDER BY t.id, g"), {"now": now, "per": per_target})
    conn.execute(text("INSERT INTO chainhead (id, count, last_id, last_hash) SELECT org_id, count(*), max(id), "
                      "(array_agg(hash ORDER BY seq DESC))[1] FROM transitionrecord GROUP BY org_id"))


def _set_aside_indexes(conn, tables: tuple[str, ...]) -> list[str]:
    """Drop the secondary indexes of ``tables`` (not those of a constraint); their definitions, to build them
    again once the rows are in (building an index over 2,000,000 rows at once is many times faster than
    keeping it up row by row)."""
    found = conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN :tables "
                              "AND indexname NOT IN (SELECT conname FROM pg_constraint)")
                         .bindparams(bindparam("tables", expanding=True)), {"tables": list(tables)}).all()
    for name, _ in found:
        conn.execute(text(f'DROP INDEX "{name}"'))
    return [definition for _, definition in found]


def load(url: str, *, scale: float, records: int) -> dict:
    """Build the whole deployment in ``url`` (a fresh, migrated PostgreSQL database); what was built and how long it took."""
    bind = make_engine(url)
    now, today = clock.to_db(clock.now()), clock.today()
    took: dict[str, float] = {}
    try:
        with bind.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
            indexes = _set_aside_indexes(conn, ("target", "assignment", "transitionrecord"))
            for step, work in (("organisations", lambda: _tree(conn, now)), ("plans", lambda: _plans(conn, now, today)),
                               ("targets", lambda: _targets(conn, now, today, scale)),
                               ("records", lambda: _records(conn, now, records)),
                               ("indexes", lambda: [conn.execute(text(d)) for d in indexes])):
                started = time.perf_counter()
                work()
                took[step] = time.perf_counter() - started
        started = time.perf_counter()
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        took["vacuum analyze"] = time.perf_counter() - started
        with bind.connect() as conn:
            counts = {name: conn.execute(text(query)).scalar_one() for name, query in (
                ("organisations", "SELECT count(*) FROM organisation"), ("targets", "SELECT count(*) FROM target"),
                ("handed down", "SELECT count(*) FROM target WHERE parent_id IS NOT NULL"),
                ("records", "SELECT count(*) FROM transitionrecord"))}
    finally:
        bind.dispose()
    return {**counts, "took": took}
