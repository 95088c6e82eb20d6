"""The target list's text search is an index lookup on PostgreSQL (the trigram indexes of migration 0014,
Chinese included)."""
from __future__ import annotations

import pytest
from sqlalchemy import event, text
from sqlmodel import Session

from engine.store.db import make_engine
from engine.store.models import Target
from engine.workflow import targets
from tests import factories
from tests.conftest import _reset_pg

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_session(request):
    """A session on the PostgreSQL test database, emptied (SQLite has no trigram index: its search reads the
    table, and its databases are one organisation's)."""
    url = request.getfixturevalue("_pg_database")
    _reset_pg(url)
    bind = make_engine(url)
    with Session(bind, expire_on_commit=False) as session:
        yield session
    bind.dispose()


def _many_like(session, code: str, copies: int) -> None:
    """``copies`` more targets like the one coded ``code`` (codes ``X-1`` …), in one statement; then what
    autovacuum would do in time: the new index entries merged and the statistics taken."""
    columns = [c.name for c in Target.__table__.columns if c.name not in ("id", "code")]
    listed = ", ".join(f'"{c}"' for c in columns)
    session.exec(text(f"INSERT INTO target (code, {listed}) SELECT 'X-' || n, {listed} FROM target, "
                      f"generate_series(1, :copies) AS n WHERE code = :code").bindparams(copies=copies, code=code))
    session.commit()
    for column in ("code", "text", "indicator"):
        session.exec(text(f"SELECT gin_clean_pending_list('ix_target_{column}_trgm'::regclass)"))
    session.exec(text("ANALYZE target"))


def _searched(session, words: str) -> tuple[list[str], list[tuple[str, dict]]]:
    """The codes the search finds for ``words`` and the statements it sent."""
    sent: list[tuple[str, dict]] = []
    bind = session.get_bind()

    def keep(_conn, _cursor, statement, parameters, *_):
        sent.append((statement, parameters))

    event.listen(bind, "before_cursor_execute", keep)
    try:
        found, total = targets.search(session=session, filters=targets.TargetFilter(q=words), limit=50, offset=0,
                                      actor=factories.OFFICE)
    finally:
        event.remove(bind, "before_cursor_execute", keep)
    assert total == len(found)
    return [t.code for t in found], sent


def test_the_search_finds_chinese_words_through_the_trigram_indexes(pg_session):
    session = pg_session
    factories.target(session, code="1-5-1", text="推进普及普惠县、优质均衡县创建")
    factories.target(session, code="1-12-1", text="开展县（市、区）教育经费专项督导", indicator="督导覆盖率100%")
    factories.target(session, code="2-1-1", text="按年度计划组织实施学位扩容工程")
    _many_like(session, "2-1-1", 5000)
    names = set(session.exec(text("SELECT indexname FROM pg_indexes WHERE tablename = 'target'")).scalars())
    assert {"ix_target_code_trgm", "ix_target_text_trgm", "ix_target_indicator_trgm"} <= names

    codes, sent = _searched(session, "经费专项")
    assert codes == ["1-12-1"]
    assert _searched(session, "覆盖率100")[0] == ["1-12-1"]
    assert _searched(session, "1-5-")[0] == ["1-5-1"]
    assert _searched(session, "100%")[0] == ["1-12-1"]  # the % is a character here, not a wildcard

    # Both statements it sent (the page and its total) are answered from the indexes, not by reading the table.
    statements = [(s, p) for s, p in sent if "ILIKE" in s.upper() or "LIKE" in s.upper()]
    assert len(statements) == 2  # the page and its total
    for statement, parameters in statements:
        plan = "\n".join(row[0] for row in session.connection().exec_driver_sql("EXPLAIN " + statement, parameters))
        assert "Seq Scan" not in plan, plan
        assert all(f"ix_target_{column}_trgm" in plan for column in ("code", "text", "indicator")), plan
