"""Every deadline phrase the source documents use (seeds 000, 001, 002 and 004, transcribed here):
each parses to the date a reader of the document would name, or is refused with a suggestion."""
from __future__ import annotations

from datetime import date

import pytest

from engine.calendar.deadlines import DeadlinePhraseError, parse_deadline

Y = 2024
#: (seed, phrase as the document writes it, due date, checkpoints) for plan year 2024.
ACCEPTED = [
    # 000: the assessment table's 完成时限 column and the evaluation timetable of §4.
    ("000", "12月底前", date(2024, 12, 31), ()),
    ("000", "11月底前", date(2024, 11, 30), ()),
    ("000", "10月底前", date(2024, 10, 31), ()),
    ("000", "2024年12月30日前", date(2024, 12, 30), ()),
    ("000", "2025年1月上旬", date(2025, 1, 10), ()),
    ("000", "2025年1月中旬", date(2025, 1, 20), ()),
    # 001: the month-by-month calendar, the quarterly reviews and the reporting rhythm.
    ("001", "2月份", date(2024, 2, 29), ()),
    ("001", "3月份", date(2024, 3, 31), ()),
    ("001", "4 月份", date(2024, 4, 30), ()),
    ("001", "5月份", date(2024, 5, 31), ()),
    ("001", "7月份", date(2024, 7, 31), ()),
    ("001", "9月份", date(2024, 9, 30), ()),
    ("001", "10月份", date(2024, 10, 31), ()),
    ("001", "12月份", date(2024, 12, 31), ()),
    ("001", "一季度", date(2024, 3, 31), ()),
    ("001", "第二季度", date(2024, 6, 30), ()),
    ("001", "第三季度", date(2024, 9, 30), ()),
    ("001", "每月25日前", date(2024, 12, 25), ()),
    ("001", "3月25日、9月25日前", date(2024, 9, 25), (date(2024, 3, 25),)),
    ("001", "6月25日前", date(2024, 6, 25), ()),
    ("001", "12月中旬", date(2024, 12, 20), ()),
    ("001", "月小结", date(2024, 12, 31), ()),
    ("001", "季分析", date(2024, 12, 31), (date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30))),
    ("001", "半年评估", date(2024, 12, 31), (date(2024, 6, 30),)),
    ("001", "年度总结", date(2024, 12, 31), ()),
    # 002: the timeliness indicators (时效指标).
    ("002", "长期", None, ()),
    ("002", "10-11月份", date(2024, 11, 30), ()),
    ("002", "5月--10月", date(2024, 10, 31), ()),
    # 004: the only date it writes.
    ("004", "2017年4月21日", date(2017, 4, 21), ()),
    # The forms the issue names beside them.
    ("—", "四季度", date(2024, 12, 31), ()),
    ("—", "第一季度", date(2024, 3, 31), ()),
    ("—", "上半年", date(2024, 6, 30), ()),
    ("—", "下半年", date(2024, 12, 31), ()),
    ("—", "年底前", date(2024, 12, 31), ()),
    ("—", "年内", date(2024, 12, 31), ()),
    ("—", "每季度末", date(2024, 12, 31), (date(2024, 3, 31), date(2024, 6, 30), date(2024, 9, 30))),
]
#: Phrases of the documents' prose that are not deadlines as written, and the form suggested instead.
REFUSED = [
    ("004", "2016年秋季", "9月至11月"),
    ("001", "月小结、季分析、半年评估原则", None),
]


@pytest.mark.parametrize(("seed", "phrase", "due", "checkpoints"), ACCEPTED, ids=[p for _, p, _, _ in ACCEPTED])
def test_every_seed_phrase_parses(seed, phrase, due, checkpoints):
    deadline = parse_deadline(phrase, Y)
    assert deadline.due == due and deadline.checkpoints == checkpoints


def test_the_monthly_rhythm_falls_at_each_months_end():
    assert parse_deadline("月小结", Y).occurrences(Y)[1] == date(2024, 2, 29)


@pytest.mark.parametrize(("seed", "phrase", "suggestion"), REFUSED)
def test_prose_that_is_no_deadline_is_refused_with_an_accepted_suggestion(seed, phrase, suggestion):
    with pytest.raises(DeadlinePhraseError) as refused:
        parse_deadline(phrase, Y)
    assert "可写作" in str(refused.value)
    if suggestion:
        assert refused.value.suggestion == suggestion
    parse_deadline(refused.value.suggestion, Y)


def test_the_import_keeps_the_earlier_dates_as_checkpoints(session):
    from sqlmodel import select

    from engine.plans import importer, service, table as planfile
    from engine.store.models import Target
    from tests import factories as f

    text = """
plan: {org: 泉州市教育局, year: 2024}
targets:
  - {编号: "1", 年度目标: 报送工作专报, 权重分值: 100, 完成时限: "3月25日、9月25日前", 分管领导: 林长华, 责任科室: 办公室}
"""
    draft = importer.parse(planfile.read(text.encode(), "plan.yaml"), "plan.yaml")
    assert draft.errors == []
    service.apply(session=session, draft=draft, actor=f.ADMIN)
    target = session.exec(select(Target)).one()
    assert (target.due_date, target.checkpoints) == (date(2024, 9, 25), ["2024-03-25"])
