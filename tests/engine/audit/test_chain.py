"""The hash chain: it verifies as written, and every kind of tampering is found."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from engine.audit import chain as audit
from tests import factories as f
from tests.engine.lifecycle import drive, step


@pytest.fixture
def chain(session):
    """The plan's milestones, two targets created, and their histories interleaved: 12 records."""
    a, b = f.target(session), f.target(session)
    drive(session, a.id, "verified", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)  # 4 records
    drive(session, b.id, "self_assessed", staff=f.STAFF, leaders=[f.LEADER], office=f.OFFICE)  # 2
    step(session, a.id, "score", f.OFFICE)
    step(session, b.id, "return", f.LEADER)
    step(session, b.id, "report_progress", f.STAFF)
    check = audit.verify(session)
    assert check == audit.ChainCheck(count=12, ok=True)
    return session


def _sql(session, statement, **params):
    session.execute(text(statement), params)
    session.commit()


@pytest.mark.parametrize(("column", "value"), [
    ("target_id", None), ("kind", "system"), ("actor", "他人"), ("role", "office"), ("trigger", "verify"),
    ("from_state", "verified"), ("to_state", "scored"), ("at", "2020-01-01 00:00:00"), ("comment", "补写的意见"),
    ("payload", '{"score": 2}'), ("prev_hash", "f" * 64), ("hash", "e" * 64),
])
def test_editing_any_field_is_found(chain, column, value):
    _sql(chain, f'UPDATE transitionrecord SET "{column}" = :v WHERE id = 8', v=value)
    check = audit.verify(chain)
    assert not check.ok and check.first_bad_id == 8 and check.count == 7


def test_deleting_a_record_is_found(chain):
    _sql(chain,  "DELETE FROM transitionrecord WHERE id = 8")  # b's start: nothing refers to it
    check = audit.verify(chain)
    assert (check.ok, check.first_bad_id, check.count) == (False, 9, 7)


def test_cutting_the_end_is_found(chain):
    _sql(chain, "DELETE FROM transitionrecord WHERE id = 12")
    check = audit.verify(chain)
    assert not check.ok and check.count == 11 and "链头" in check.reason


def test_reordering_records_is_found(chain):
    # Swap the contents of records 9 and 10 (everything but the place in the chain).
    columns = ["target_id", "kind", "actor", "role", "trigger", "from_state", "to_state", "at", "comment",
               "payload", "prev_hash", "hash"]
    rows = {r.id: r for r in chain.execute(text("SELECT * FROM transitionrecord WHERE id IN (9, 10)"))}
    chain.execute(text("UPDATE transitionrecord SET hash = 'swapping' WHERE id = 10"))  # hashes are unique
    for here, there in [(9, 10), (10, 9)]:
        values = {c: getattr(rows[there], c) for c in columns}
        if isinstance(values["payload"], dict):
            values["payload"] = json.dumps(values["payload"])
        assignments = ", ".join(f'"{c}" = :{c}' for c in columns)
        chain.execute(text(f"UPDATE transitionrecord SET {assignments} WHERE id = :id"), {**values, "id": here})
    chain.commit()
    check = audit.verify(chain)
    assert not check.ok and check.first_bad_id == 9


def test_appending_continues_the_chain(chain):
    step(chain, 1, "reopen", f.OFFICE)
    assert audit.verify(chain) == audit.ChainCheck(count=13, ok=True)


def test_exports_keep_formulas_as_text(chain):
    import io

    from openpyxl import load_workbook

    step(chain, 2, "report_progress", f.STAFF, comment="=HYPERLINK(\"http://x\",\"点我\")")
    csv_text = audit.export_csv(chain, audit.AuditFilter()).decode("utf-8-sig")
    assert "'=HYPERLINK" in csv_text
    sheet = load_workbook(io.BytesIO(audit.export_xlsx(chain, audit.AuditFilter()))).active
    cell = [row for row in sheet.iter_rows() if row[8].value and str(row[8].value).startswith("=")][0][8]
    assert cell.data_type == "s"
