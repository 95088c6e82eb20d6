"""The audit list by keyset over the API and on the page: ``after`` and ``next_after``."""
from __future__ import annotations

import re

from sqlmodel import Session

from engine.audit import chain
from engine.people.actors import actor_for
from tests import factories as f
from tests.api.conftest import token
from tests.api.test_pages import login, web  # noqa: F401  (the page fixture)
from tests.engine.lifecycle import step


def test_audit_api_pages_by_keyset(api, engine_db, two_targets, frozen):
    mine, _ = two_targets
    with Session(engine_db, expire_on_commit=False) as session:
        base = chain.verify(session).count  # the targets' creation records and the plan's milestones
        step(session, mine, "start", f.STAFF)
        for _ in range(4):
            step(session, mine, "report_progress", f.STAFF)
    auditor = token(api, "审计员")
    first = api.get("/api/v1/audit?limit=2", headers=auditor).json()
    assert first["count"] == base + 5 and [r["id"] for r in first["data"]] == [1, 2] and first["next_after"] == 2
    seen, after = [], 0
    while after is not None:
        page = api.get(f"/api/v1/audit?limit=2&after={after}", headers=auditor).json()
        assert page["count"] is None
        seen += [r["id"] for r in page["data"]]
        after = page["next_after"]
    assert seen == list(range(1, base + 6))
    page = api.get(f"/api/v1/audit?after={base + 3}&trigger=report_progress", headers=auditor).json()
    assert [r["id"] for r in page["data"]] == [base + 4, base + 5] and page["next_after"] is None
    assert api.get("/api/v1/audit?after=-1", headers=auditor).status_code == 422


def _progress(engine_db, target_id: int, count: int) -> list[int]:
    """The demo target started and ``count`` progress reports on it: their record ids."""
    with Session(engine_db, expire_on_commit=False) as session:
        staff = actor_for(session, "黄洺鋆")
        step(session, target_id, "start", staff)
        for _ in range(count):
            step(session, target_id, "report_progress", staff)
        return [r.id for r in chain.history(session=session, target_id=target_id) if r.trigger == "report_progress"]


def test_audit_page_follows_next_after(web, engine_db):
    client, ids = web
    _progress(engine_db, ids["1-2-1"], 60)  # more than a page of 50
    with Session(engine_db, expire_on_commit=False) as session:
        total = chain.verify(session).count  # the demo's own records and these 61
    assert login(client, "审计员").status_code == 303
    first = client.get("/audit")
    assert first.status_code == 200 and f"共 {total} 条" in first.text and 'after=50"' in first.text
    deep = client.get(f"/audit?after={total - 11}")
    assert deep.status_code == 200 and f"第 {total - 10} 号记录起" in deep.text and f"共 {total} 条" not in deep.text
    assert [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", deep.text)] == list(range(total - 10, total + 1))
    assert 'data-testid="next"' not in deep.text


def test_csv_export_streams_every_record_in_order(api, engine_db, two_targets, frozen, monkeypatch):
    mine, _ = two_targets
    with Session(engine_db, expire_on_commit=False) as session:
        base = chain.verify(session).count
        step(session, mine, "start", f.STAFF)
        for _ in range(6):
            step(session, mine, "report_progress", f.STAFF)
    real = chain.stream_csv
    pieces = []

    def small_batches(session, filters, labels=None, batch=2000):
        for piece in real(session, filters, labels, batch=3):  # several pieces, several keyset reads
            pieces.append(piece)
            yield piece

    monkeypatch.setattr(chain, "stream_csv", small_batches)
    exported = api.get("/api/v1/audit/export?format=csv", headers=token(api, "审计员"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert len(pieces) == (base + 7) // 3 + 1 and exported.content.startswith("\ufeff".encode()) and exported.content.count(b"\xef\xbb\xbf") == 1
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("序号,") and [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, base + 8))


def test_audit_page_goes_forward_and_back_by_page_number_without_counting(web, engine_db):
    client, ids = web
    progress = _progress(engine_db, ids["1-2-1"], 110)  # three pages of 50 of this trigger
    assert login(client, "审计员").status_code == 303
    shown = lambda page: [int(n) for n in re.findall(r"<tr><td>(\d+)</td>", page.text)]  # noqa: E731
    first = client.get("/audit?trigger=report_progress")
    assert "第 1 页" in first.text and "共 " not in first.text and shown(first) == progress[:50]
    second = client.get("/" + re.search(r'href="/(audit\?[^"]+)" data-testid="next"', first.text).group(1).replace("&amp;", "&"))
    assert "第 2 页" in second.text and shown(second) == progress[50:100]
    third = client.get("/" + re.search(r'href="/(audit\?[^"]+)" data-testid="next"', second.text).group(1).replace("&amp;", "&"))
    assert "第 3 页" in third.text and shown(third) == progress[100:] and 'data-testid="next"' not in third.text
    back = client.get("/" + re.search(r'href="/(audit\?[^"]+)" data-testid="previous"', third.text).group(1).replace("&amp;", "&"))
    assert "第 2 页" in back.text and shown(back) == progress[50:100]
    start = client.get("/" + re.search(r'href="/(audit\?[^"]+)" data-testid="previous"', back.text).group(1).replace("&amp;", "&"))
    assert "第 1 页" in start.text and shown(start) == progress[:50] and 'data-testid="previous"' not in start.text


def test_the_chain_check_runs_as_a_job_the_page_shows(web, engine_db):
    from engine.audit import chain_check
    from tests.api.test_pages import _csrf

    client, _ = web
    assert login(client, "审计员").status_code == 303
    page = client.get("/audit")
    started = client.post("/audit/verify", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/audit?check=true"
    with Session(engine_db) as session:
        job = chain_check.status(session)
        total = chain.verify(session).count
    assert job is not None and job.started_by == "审计员" and job.total == total
    assert chain_check.wait(job.id, timeout=300)
    shown = client.get("/audit?check=true")
    assert 'data-testid="chain"' in shown.text and "审计链完整" in shown.text and 'http-equiv="refresh"' not in shown.text


def test_xlsx_and_json_exports_stream_every_record(api, engine_db, two_targets, frozen):
    import io
    import json

    from openpyxl import load_workbook

    mine, _ = two_targets
    with Session(engine_db, expire_on_commit=False) as session:
        step(session, mine, "start", f.STAFF)
        total = chain.verify(session).count
    auditor = token(api, "审计员")
    exported = api.get("/api/v1/audit/export?format=json", headers=auditor)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/json")
    records = json.loads(exported.content)
    assert [r["id"] for r in records] == list(range(1, total + 1)) and records[-1]["trigger"] == "start"
    assert records[-1]["at"].endswith("+08:00") and isinstance(records[-1]["payload"], dict)
    only = json.loads(api.get(f"/api/v1/audit/export?format=json&target={mine}", headers=auditor).content)
    assert {r["target_id"] for r in only} == {mine}
    book = api.get("/api/v1/audit/export?format=xlsx", headers=auditor)
    assert book.status_code == 200 and "attachment" in book.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(book.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "序号" and [int(r[0]) for r in rows[1:]] == list(range(1, total + 1))


def test_the_first_audit_page_takes_its_count_from_the_chain_heads_not_the_records(web, engine_db):
    from sqlalchemy import event

    client, ids = web
    _progress(engine_db, ids["1-2-1"], 3)
    with Session(engine_db, expire_on_commit=False) as session:
        total = chain.verify(session).count
    assert login(client, "审计员").status_code == 303
    seen: list[str] = []

    def heard(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement.lower())

    event.listen(engine_db, "before_cursor_execute", heard)
    try:
        first = client.get("/audit")
    finally:
        event.remove(engine_db, "before_cursor_execute", heard)
    assert first.status_code == 200 and f"共 {total} 条" in first.text
    assert not [s for s in seen if "count(" in s and "transitionrecord" in s]  # no count of the records
    assert any("sum(chainhead.count)" in s.replace('"', "") for s in seen)
