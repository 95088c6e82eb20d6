"""Audit records by keyset (after an id): every page found, none twice, at any depth; counts
without filters come from the chain head."""
from __future__ import annotations

from engine.audit import chain as audit
from tests import factories as f
from tests.engine.lifecycle import step


def _history(session, count: int) -> list[int]:
    targets = [f.target(session) for _ in range(2)]
    for t in targets:
        step(session, t.id, "start", f.STAFF)
    for i in range(count - 2):
        step(session, targets[i % 2].id, "report_progress", f.STAFF)
    return [t.id for t in targets]


def test_keyset_pages_cover_every_record_once(session, frozen):
    ids = _history(session, 11)
    total = audit.verify(session).count  # the 11 and the targets' creation and the plan's records
    seen, after, pages = [], 0, 0
    while after is not None:
        records, after = audit.page_after(session=session, filters=audit.AuditFilter(), after=after, limit=4)
        seen += [r.id for r in records]
        pages += 1
    assert seen == list(range(1, total + 1)) and pages == -(-total // 4)
    only = audit.AuditFilter(target_id=ids[1])
    records, after = audit.page_after(session=session, filters=only, after=0, limit=100)
    assert after is None and {r.target_id for r in records} == {ids[1]} and len(records) == 6  # its creation too
    records, after = audit.page_after(session=session, filters=only, after=records[2].id, limit=1)
    assert [r.id for r in records] == [r.id for r in audit.history(session=session, target_id=ids[1])][3:4]
    assert after is not None


def test_count_without_filters_is_the_head_and_agrees_with_the_records(session, frozen):
    _history(session, 6)
    total = audit.verify(session).count
    assert total >= 6 and audit.count(session=session, filters=audit.AuditFilter()) == total
    assert audit.search(session=session, filters=audit.AuditFilter(), limit=2)[1] == total
    assert audit.count(session=session, filters=audit.AuditFilter(trigger="start")) == 2
