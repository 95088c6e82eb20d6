"""完成时限 phrases → due dates; expected dates worked out by hand for plan year 2024."""
from __future__ import annotations

import calendar
import pickle
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.calendar.deadlines import Deadline, DeadlinePhraseError, parse_deadline

Y = 2024  # a leap year: 2月 has 29 days


@pytest.mark.parametrize(
    "phrase, due, kind",
    [
        ("12月底前", date(2024, 12, 31), "date"),
        ("11月底前", date(2024, 11, 30), "date"),
        ("10月底前", date(2024, 10, 31), "date"),
        ("2月底前", date(2024, 2, 29), "date"),
        ("6月底", date(2024, 6, 30), "date"),
        ("6月末", date(2024, 6, 30), "date"),
        ("9月中旬", date(2024, 9, 20), "date"),
        ("9月上旬", date(2024, 9, 10), "date"),
        ("9月下旬", date(2024, 9, 30), "date"),
        ("2月下旬", date(2024, 2, 29), "date"),
        ("2024年12月30日前", date(2024, 12, 30), "date"),
        ("2025年1月上旬", date(2025, 1, 10), "date"),
        ("2025年1月中旬", date(2025, 1, 20), "date"),
        ("2023年12月底前", date(2023, 12, 31), "date"),
        ("3月25日前", date(2024, 3, 25), "date"),
        ("3月25日", date(2024, 3, 25), "date"),
        ("2月29日前", date(2024, 2, 29), "date"),
        ("7月1日之前", date(2024, 7, 1), "date"),
        ("5月--10月", date(2024, 10, 31), "range"),
        ("5月-10月", date(2024, 10, 31), "range"),
        ("5—10月", date(2024, 10, 31), "range"),
        ("5——10月", date(2024, 10, 31), "range"),
        ("10-11月份", date(2024, 11, 30), "range"),
        ("10月-11月", date(2024, 11, 30), "range"),
        ("5月至10月", date(2024, 10, 31), "range"),
        ("1－2月", date(2024, 2, 29), "range"),  # full-width dash
        ("年底前", date(2024, 12, 31), "date"),
        ("年底", date(2024, 12, 31), "date"),
        ("2024年底前", date(2024, 12, 31), "date"),
        ("年内", date(2024, 12, 31), "date"),
        ("全年", date(2024, 12, 31), "range"),
        ("上半年", date(2024, 6, 30), "range"),
        ("下半年", date(2024, 12, 31), "range"),
        ("4月份", date(2024, 4, 30), "date"),
        ("4月", date(2024, 4, 30), "date"),
        ("１２月底前", date(2024, 12, 31), "date"),  # full-width digits
        ("  12月底前\t", date(2024, 12, 31), "date"),
        ("\u300011月底前\u3000", date(2024, 11, 30), "date"),  # ideographic spaces
    ],
)
def test_phrases(phrase: str, due: date, kind: str) -> None:
    deadline = parse_deadline(phrase, Y)
    assert deadline == Deadline(phrase, due, kind)
    assert deadline.occurrences(Y) == [due]


def test_phrase_is_kept_as_written() -> None:
    assert parse_deadline(" １２月底前 ", Y).phrase == " １２月底前 "


def test_ongoing() -> None:
    deadline = parse_deadline("长期", Y)
    assert deadline == Deadline("长期", None, "ongoing")
    assert deadline.occurrences(Y) == []


def test_monthly() -> None:
    deadline = parse_deadline("每月25日前", Y)
    assert (deadline.due, deadline.kind, deadline.monthly_day) == (date(2024, 12, 25), "monthly", 25)
    assert deadline.occurrences(2024) == [date(2024, m, 25) for m in range(1, 13)]


def test_monthly_clamps_to_month_end() -> None:
    deadline = parse_deadline("每月31日前", Y)
    assert deadline.due == date(2024, 12, 31)
    got = deadline.occurrences(2025)
    assert got[1] == date(2025, 2, 28)
    assert got[3] == date(2025, 4, 30)
    assert got[0] == date(2025, 1, 31)
    assert parse_deadline("每月30日", Y).occurrences(2024)[1] == date(2024, 2, 29)


def test_rolls_over_into_the_next_year() -> None:
    # The bureau evaluates the 2024 plan in "1月上旬" of 2025.
    assert parse_deadline("1月上旬", 2024, rolls_over=True).due == date(2025, 1, 10)
    assert parse_deadline("1月中旬", 2024, rolls_over=True).due == date(2025, 1, 20)
    assert parse_deadline("2月底前", 2024, rolls_over=True).due == date(2025, 2, 28)
    assert parse_deadline("1月15日前", 2024, rolls_over=True).due == date(2025, 1, 15)
    assert parse_deadline("1-2月", 2024, rolls_over=True).due == date(2025, 2, 28)
    # Later months, explicit years and year-level phrases stay where they are.
    assert parse_deadline("12月底前", 2024, rolls_over=True).due == date(2024, 12, 31)
    assert parse_deadline("3月上旬", 2024, rolls_over=True).due == date(2024, 3, 10)
    assert parse_deadline("2024年1月上旬", 2024, rolls_over=True).due == date(2024, 1, 10)
    assert parse_deadline("年底前", 2024, rolls_over=True).due == date(2024, 12, 31)
    assert parse_deadline("长期", 2024, rolls_over=True).due is None
    # Without rolls_over, January is the plan year's January.
    assert parse_deadline("1月上旬", 2024).due == date(2024, 1, 10)


@pytest.mark.parametrize(
    "phrase",
    ["某某", "", "   ", "尽快", "12月底前后", "底前", "每月", "2024年", "月底前", "5月-", "Q4", "十二月底前"],
)
def test_unknown_phrases(phrase: str) -> None:
    with pytest.raises(DeadlinePhraseError) as err:
        parse_deadline(phrase, Y)
    assert err.value.phrase == phrase
    assert str(err.value) == f"无法识别的完成时限：“{phrase}”（可写作“{err.value.suggestion}”）"
    assert err.value.reason is None
    parse_deadline(err.value.suggestion, Y)  # the suggestion is itself accepted


def test_unknown_phrase_message_is_chinese() -> None:
    with pytest.raises(DeadlinePhraseError, match="无法识别的完成时限：“某某”"):
        parse_deadline("某某", Y)
    assert isinstance(DeadlinePhraseError("x"), ValueError)


@pytest.mark.parametrize(
    "phrase",
    ["2月30日", "2月30日前", "12月32日", "2023年2月29日前", "4月31日", "13月底前", "0月底前", "3月0日", "每月32日前",
     "每月0日", "10-5月", "11月-2月", "6月前", "0000年1月1日"],
)
def test_impossible_phrases(phrase: str) -> None:
    with pytest.raises(DeadlinePhraseError) as err:
        parse_deadline(phrase, Y)
    assert err.value.phrase == phrase
    assert f"“{phrase}”" in str(err.value)
    assert err.value.reason


def test_2_30_names_the_problem() -> None:
    with pytest.raises(DeadlinePhraseError, match="2024年2月没有30日"):
        parse_deadline("2月30日", Y)
    with pytest.raises(DeadlinePhraseError, match="歧义"):
        parse_deadline("6月前", Y)


# --- The 完成时限 column of 泉州市教育局2024年度绩效目标考评表 (seed 000, 附件).
# 57 targets use three phrases: 12月底前 (51 targets), 11月底前 (1-1-2, 1-2-1, 1-3-2,
# 1-4-3) and 10月底前 (1-4-1, 2-1-1). The plan's own text adds milestones
# "2024年12月30日前" (自评材料), "2025年1月上旬" (综合评估), "2025年1月中旬" (总结上报).

SEED_ANNEX = {
    "12月底前": date(2024, 12, 31),
    "11月底前": date(2024, 11, 30),
    "10月底前": date(2024, 10, 31),
}
SEED_MILESTONES = {
    "2024年12月30日前": date(2024, 12, 30),
    "2025年1月上旬": date(2025, 1, 10),
    "2025年1月中旬": date(2025, 1, 20),
    "1月上旬": date(2025, 1, 10),  # the same milestone written without its year
    "1月中旬": date(2025, 1, 20),
}


@pytest.mark.parametrize("phrase, due", SEED_ANNEX.items())
def test_seed_annex_phrases(phrase: str, due: date) -> None:
    assert parse_deadline(phrase, 2024).due == due


@pytest.mark.parametrize("phrase, due", SEED_MILESTONES.items())
def test_seed_milestones(phrase: str, due: date) -> None:
    assert parse_deadline(phrase, 2024, rolls_over=True).due == due


# --- Properties over the grammar.

plan_years = st.integers(min_value=2000, max_value=2100)
months = st.integers(min_value=1, max_value=12)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


@st.composite
def spelled(draw: st.DrawFn, phrase: str) -> str:
    """The same phrase as people type it: maybe full-width digits, maybe padded."""
    if draw(st.booleans()):
        phrase = phrase.translate(FULL_WIDTH)
    pad = st.sampled_from(["", " ", "\u3000", "\t", "  "])
    return draw(pad) + phrase + draw(pad)


def _expected_year(plan_year: int, month: int, rolls_over: bool) -> int:
    return plan_year + 1 if rolls_over and month <= 2 else plan_year


@given(plan_years, months, st.booleans(), st.data())
def test_month_end_forms(plan_year: int, month: int, rolls_over: bool, data: st.DataObject) -> None:
    form = data.draw(st.sampled_from(["{m}月底前", "{m}月底", "{m}月末", "{m}月", "{m}月份", "{m}月下旬", "{m}月底之前"]))
    phrase = data.draw(spelled(form.format(m=month)))
    deadline = parse_deadline(phrase, plan_year, rolls_over=rolls_over)
    assert deadline.due == _month_end(_expected_year(plan_year, month, rolls_over), month)
    assert deadline.kind == "date" and deadline.phrase == phrase


@given(plan_years, months, st.sampled_from([("上", 10), ("中", 20)]), st.booleans(), st.data())
def test_dekads(plan_year: int, month: int, dekad: tuple[str, int], rolls_over: bool, data: st.DataObject) -> None:
    word, day = dekad
    phrase = data.draw(spelled(f"{month}月{word}旬"))
    due = parse_deadline(phrase, plan_year, rolls_over=rolls_over).due
    assert due == date(_expected_year(plan_year, month, rolls_over), month, day)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2101, 12, 31)), plan_years, st.booleans(), st.data())
def test_day_forms(day: date, plan_year: int, rolls_over: bool, data: st.DataObject) -> None:
    # Plan year chosen so that the day exists in it (29 Feb only in leap years).
    if (day.month, day.day) == (2, 29) and not calendar.isleap(_expected_year(plan_year, 2, rolls_over)):
        plan_year = 2024 - (1 if rolls_over else 0)
    form = data.draw(st.sampled_from(["{m}月{d}日前", "{m}月{d}日", "{m}月{d}日之前"]))
    phrase = data.draw(spelled(form.format(m=day.month, d=day.day)))
    due = parse_deadline(phrase, plan_year, rolls_over=rolls_over).due
    assert due == date(_expected_year(plan_year, day.month, rolls_over), day.month, day.day)
    # An explicit year wins over the plan year and over rolling over.
    explicit = data.draw(spelled(f"{day.year}年{day.month}月{day.day}日前"))
    assert parse_deadline(explicit, plan_year, rolls_over=rolls_over).due == day


@given(plan_years, months, st.integers(min_value=29, max_value=31))
def test_days_that_do_not_exist(plan_year: int, month: int, day: int) -> None:
    if day <= calendar.monthrange(plan_year, month)[1]:
        return
    with pytest.raises(DeadlinePhraseError):
        parse_deadline(f"{month}月{day}日前", plan_year)


@given(plan_years, months, months, st.booleans(), st.data())
def test_ranges_end_at_the_later_month(plan_year: int, a: int, b: int, rolls_over: bool, data: st.DataObject) -> None:
    first, last = sorted((a, b))
    sep = data.draw(st.sampled_from(["-", "--", "—", "——", "－", "~", "～", "至", "到"]))
    form = data.draw(st.sampled_from(["{a}月{s}{b}月", "{a}{s}{b}月", "{a}{s}{b}月份", "{a}月{s}{b}月份"]))
    phrase = data.draw(spelled(form.format(a=first, s=sep, b=last)))
    deadline = parse_deadline(phrase, plan_year, rolls_over=rolls_over)
    assert deadline.kind == "range"
    assert deadline.due == _month_end(_expected_year(plan_year, last, rolls_over), last)
    if first != last:
        with pytest.raises(DeadlinePhraseError):
            parse_deadline(form.format(a=last, s=sep, b=first), plan_year)


@given(plan_years, st.booleans(), st.data())
def test_ongoing_never_has_a_due_date(plan_year: int, rolls_over: bool, data: st.DataObject) -> None:
    deadline = parse_deadline(data.draw(spelled("长期")), plan_year, rolls_over=rolls_over)
    assert deadline.due is None and deadline.kind == "ongoing"
    assert deadline.occurrences(data.draw(plan_years)) == []


@given(plan_years, st.integers(min_value=1, max_value=31), plan_years, st.data())
def test_monthly_occurrences(plan_year: int, day: int, year: int, data: st.DataObject) -> None:
    form = data.draw(st.sampled_from(["每月{d}日前", "每月{d}日"]))
    deadline = parse_deadline(data.draw(spelled(form.format(d=day))), plan_year)
    assert deadline.kind == "monthly" and deadline.monthly_day == day
    got = deadline.occurrences(year)
    assert len(got) == 12
    assert [d.month for d in got] == list(range(1, 13))
    assert all(d.year == year for d in got)
    assert all(d.day == min(day, calendar.monthrange(year, d.month)[1]) for d in got)
    assert deadline.due == deadline.occurrences(plan_year)[-1] == date(plan_year, 12, day)


@given(plan_years, st.booleans())
def test_year_level_phrases(plan_year: int, rolls_over: bool) -> None:
    end, mid = date(plan_year, 12, 31), date(plan_year, 6, 30)
    for phrase, due in [("年底前", end), ("年内", end), ("全年", end), ("上半年", mid), ("下半年", end)]:
        assert parse_deadline(phrase, plan_year, rolls_over=rolls_over).due == due


@given(st.text(max_size=12))
def test_anything_else_is_a_phrase_error(text: str) -> None:
    # Whatever people type, the parser either understands it or says which phrase it could not.
    try:
        deadline = parse_deadline(text, Y)
    except DeadlinePhraseError as err:
        assert err.phrase == text
    else:
        assert deadline.phrase == text and deadline.kind in ("date", "range", "ongoing", "monthly", "quarterly")


def test_a_refused_phrase_still_names_the_nearest_accepted_form():
    """The suggestion is looked for when the error is shown, also for a phrase with no time word at all."""
    with pytest.raises(DeadlinePhraseError) as no_time_word:
        parse_deadline("≥560个", 2024)
    assert no_time_word.value.reason is None and no_time_word.value.suggestion
    assert str(no_time_word.value) == f"无法识别的完成时限：“≥560个”（可写作“{no_time_word.value.suggestion}”）"
    again = pickle.loads(pickle.dumps(no_time_word.value))  # as a child process hands it back
    assert (str(again), again.suggestion) == (str(no_time_word.value), no_time_word.value.suggestion)
    with pytest.raises(DeadlinePhraseError) as one_part:
        parse_deadline("3月25日、某时", 2024)
    assert one_part.value.suggestion.startswith("3月25日、")
    assert str(one_part.value).endswith(f"（可写作“{one_part.value.suggestion}”）")
