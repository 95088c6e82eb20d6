"""Quantitative indicators: target values → specs, and reported actuals → met / not met.

Expected parses are written by hand for plan year 2024.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engine.plans.indicators import (
    IndicatorError,
    IndicatorSpec,
    is_met,
    parse_indicator,
    parse_indicator_lines,
)

Y = 2024
D = Decimal


def spec_tuple(spec: IndicatorSpec) -> tuple[object, ...]:
    return (spec.comparator, spec.value, spec.value_to, spec.unit, spec.due, spec.label)


# Every distinct 指标值 of seed 002 (2024年部门整体支出绩效目标批复表), parsed by hand.
SEED_002 = [
    ("≥560个", ("ge", D(560), None, "个", None, "不少于560个")),
    ("≥100次", ("ge", D(100), None, "次", None, "不少于100次")),
    ("≥200次", ("ge", D(200), None, "次", None, "不少于200次")),
    ("100%", ("ge", D(100), None, "%", None, "达到100%")),
    ("≥90%", ("ge", D(90), None, "%", None, "不低于90%")),
    ("≥95%", ("ge", D(95), None, "%", None, "不低于95%")),
    ("≥18个", ("ge", D(18), None, "个", None, "不少于18个")),
    ("≥30人次", ("ge", D(30), None, "人次", None, "不少于30人次")),
    ("10-11月份", ("by", None, None, "", date(2024, 11, 30), "11月30日前完成")),
    ("≥18所", ("ge", D(18), None, "所", None, "不少于18所")),
    ("5月--10月", ("by", None, None, "", date(2024, 10, 31), "10月31日前完成")),
    ("≥11800人", ("ge", D(11800), None, "人", None, "不少于11800人")),
    ("长期", ("ongoing", None, None, "", None, "长期")),
    ("≥3560人次", ("ge", D(3560), None, "人次", None, "不少于3560人次")),
]


@pytest.mark.parametrize("raw, expected", SEED_002)
def test_seed_002_values(raw: str, expected: tuple[object, ...]) -> None:
    spec = parse_indicator(raw, Y)
    assert spec.raw == raw
    assert spec_tuple(spec) == expected


def test_seed_002_misplaced_cell_raises() -> None:
    # 职能4's 学生满意度 row is shifted one column right: its name sits in the 指标值 column, no value.
    with pytest.raises(IndicatorError, match="无法识别的指标值：“学生满意度”"):
        parse_indicator("学生满意度", Y)


@pytest.mark.parametrize(
    "raw, expected",
    [
        # ge
        ("≥560个", ("ge", D(560), None, "个", None, "不少于560个")),
        (">=560个", ("ge", D(560), None, "个", None, "不少于560个")),
        ("不低于90%", ("ge", D(90), None, "%", None, "不低于90%")),
        ("不少于560个", ("ge", D(560), None, "个", None, "不少于560个")),
        ("560个以上", ("ge", D(560), None, "个", None, "不少于560个")),
        ("560个及以上", ("ge", D(560), None, "个", None, "不少于560个")),
        ("≥560个以上", ("ge", D(560), None, "个", None, "不少于560个")),  # said twice, same thing
        ("≧560个", ("ge", D(560), None, "个", None, "不少于560个")),
        # le
        ("≤5次", ("le", D(5), None, "次", None, "不超过5次")),
        ("<=5次", ("le", D(5), None, "次", None, "不超过5次")),
        ("不高于5%", ("le", D(5), None, "%", None, "不高于5%")),
        ("不超过5次", ("le", D(5), None, "次", None, "不超过5次")),
        ("5次以内", ("le", D(5), None, "次", None, "不超过5次")),
        ("5次以下", ("le", D(5), None, "次", None, "不超过5次")),
        # strict
        (">90%", ("gt", D(90), None, "%", None, "高于90%")),
        ("<3起", ("lt", D(3), None, "起", None, "少于3起")),
        # a bare number or "=": a level to reach
        ("100%", ("ge", D(100), None, "%", None, "达到100%")),
        ("5个", ("ge", D(5), None, "个", None, "达到5个")),
        ("=100%", ("ge", D(100), None, "%", None, "达到100%")),
        ("12", ("ge", D(12), None, "", None, "达到12")),
        # between
        ("90%-95%", ("between", D(90), D(95), "%", None, "在90%至95%之间")),
        ("90-95%", ("between", D(90), D(95), "%", None, "在90%至95%之间")),
        ("90%~95%", ("between", D(90), D(95), "%", None, "在90%至95%之间")),
        ("90至95%", ("between", D(90), D(95), "%", None, "在90%至95%之间")),
        ("90%—95%", ("between", D(90), D(95), "%", None, "在90%至95%之间")),
        ("3-3个", ("between", D(3), D(3), "个", None, "在3个至3个之间")),
        # number forms
        ("≥2.5万个", ("ge", D("2.5"), None, "万个", None, "不少于2.5万个")),  # kept as written, not scaled
        ("≥25,000个", ("ge", D(25000), None, "个", None, "不少于25000个")),
        ("≥1,234,567.5元", ("ge", D("1234567.5"), None, "元", None, "不少于1234567.5元")),
        ("≥99.50%", ("ge", D("99.50"), None, "%", None, "不低于99.50%")),
        ("１００％", ("ge", D(100), None, "%", None, "达到100%")),  # full-width digits and ％
        ("＞９０％", ("gt", D(90), None, "%", None, "高于90%")),
        ("＜５次", ("lt", D(5), None, "次", None, "少于5次")),
        ("≥２５，０００个", ("ge", D(25000), None, "个", None, "不少于25000个")),
        ("  ≥ 560 个\t", ("ge", D(560), None, "个", None, "不少于560个")),
        ("\u3000≥560个\u3000", ("ge", D(560), None, "个", None, "不少于560个")),
        ("≥1000万元", ("ge", D(1000), None, "万元", None, "不少于1000万元")),
        # time indicators: whatever parse_deadline accepts
        ("10-11月份", ("by", None, None, "", date(2024, 11, 30), "11月30日前完成")),
        ("12月底前", ("by", None, None, "", date(2024, 12, 31), "12月31日前完成")),
        ("6月30日前", ("by", None, None, "", date(2024, 6, 30), "6月30日前完成")),
        ("9月中旬", ("by", None, None, "", date(2024, 9, 20), "9月20日前完成")),
        ("年底前", ("by", None, None, "", date(2024, 12, 31), "12月31日前完成")),
        ("1月上旬", ("by", None, None, "", date(2024, 1, 10), "1月10日前完成")),  # rolls_over=False
        ("2025年3月底前", ("by", None, None, "", date(2025, 3, 31), "2025年3月31日前完成")),
        ("每月25日前", ("by", None, None, "", date(2024, 12, 25), "每月25日前完成")),
        ("长期", ("ongoing", None, None, "", None, "长期")),
    ],
)
def test_parse(raw: str, expected: tuple[object, ...]) -> None:
    spec = parse_indicator(raw, Y)
    assert spec_tuple(spec) == expected
    assert spec.raw == raw.strip()


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "五百个", "较好", "≥", "以上", "≥个", "%", "约560个", "560个左右", "≥-5%", "1.2.3个", "2,50个",
     "95-90%", "90个-95%", "≥90-95%", "≥5个以内", "≥560个≥", "12月底前后", "学生满意度", "≥5.个",
     "560余个", "90%-95%左右", "≥560个以上的"],
)
def test_unreadable_values_raise(raw: str) -> None:
    with pytest.raises(IndicatorError) as err:
        parse_indicator(raw, Y)
    assert err.value.text == raw.strip()
    assert str(err.value).startswith(f"无法识别的指标值：“{raw.strip()}”")


def test_error_message_is_chinese_and_a_value_error() -> None:
    with pytest.raises(IndicatorError) as err:
        parse_indicator("五百个", Y)
    assert str(err.value) == "无法识别的指标值：“五百个”"
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    "raw, reason",
    [("2月30日前", "2024年2月没有30日"), ("6月前", "有歧义"), ("13月底前", "月份13不存在"), ("90个-95%", "单位不一致"),
     ("95-90%", "下限大于上限"), ("≥5个以内", "矛盾"),
     ("560个左右", "“个左右”不是单位")],
)
def test_errors_say_why(raw: str, reason: str) -> None:
    with pytest.raises(IndicatorError, match=reason) as err:
        parse_indicator(raw, Y)
    assert f"“{raw}”" in str(err.value)


def test_not_a_string() -> None:
    with pytest.raises(TypeError):
        parse_indicator(560, Y)  # type: ignore[arg-type]


def test_spec_checks_itself_and_fills_a_label() -> None:
    assert IndicatorSpec("=5", "eq", D(5)).label == "等于5"
    assert IndicatorSpec("≥5个", "ge", D(5), unit="个").label == "不少于5个"
    assert IndicatorSpec("x", "by", None, due=date(2024, 11, 30)).label == "2024年11月30日前完成"
    with pytest.raises(ValueError):
        IndicatorSpec("x", "ge", None)
    with pytest.raises(ValueError):
        IndicatorSpec("x", "between", D(5), D(4))
    with pytest.raises(ValueError):
        IndicatorSpec("x", "by", None)
    with pytest.raises(ValueError):
        IndicatorSpec("x", "about", D(1))


# --- is_met -------------------------------------------------------------------------------


@pytest.mark.parametrize("actual", [None, "", "  ", "\u3000"])
def test_not_reported_yet(actual: object) -> None:
    for raw in ("≥560个", "10-11月份", "长期", "90%-95%"):
        assert is_met(parse_indicator(raw, Y), actual) is None


@pytest.mark.parametrize(
    "raw, actual, met",
    [
        ("≥560个", 560, True), ("≥560个", 559, False), ("≥560个", 561, True), ("≥560个", "580", True),
        ("≥560个", "580个", True), ("≥560个", "559个", False), ("≥560个", "≥600", True), ("≥560个", "600个以上", True),
        ("≥560个", "５６０个", True), ("≥560个", " 560 ", True), ("≥560个", D("559.99"), False),
        ("≥560个", 560.0, True),
        ("≥90%", "92.5%", True), ("≥90%", "90%", True), ("≥90%", "89.9%", False), ("≥90%", 89.99, False),
        ("100%", "100%", True), ("100%", "99.9%", False), ("100%", "113%", True),  # bare reads ge
        ("=100%", "100.0%", True),
        ("≤5次", 5, True), ("≤5次", 6, False), ("≤5次", "4次", True), ("≤5次", 0, True),
        ("5次以内", "5次", True), ("5次以内", "5.1次", False),
        (">90%", "90%", False), (">90%", "90.01%", True),
        ("<5%", "5%", False), ("<5%", "4.99%", True),
        ("90%-95%", "90%", True), ("90%-95%", "95%", True), ("90%-95%", "92%", True), ("90%-95%", "89.99%", False),
        ("90%-95%", "95.01%", False),
        ("≥25,000个", "25,000个", True), ("≥25,000个", "24,999", False),
        ("≥2.5万个", "2.5万个", True), ("≥2.5万个", "2.4万", False),
    ],
)
def test_numeric_met(raw: str, actual: object, met: bool) -> None:
    assert is_met(parse_indicator(raw, Y), actual) is met


def test_eq_spec_built_by_hand() -> None:
    spec = IndicatorSpec("=5", "eq", D(5))
    assert is_met(spec, 5) is True
    assert is_met(spec, "5.0") is True
    assert is_met(spec, 6) is False


@pytest.mark.parametrize("actual", ["五百八十", "较好", "约580个", "580-600", "580个左右", "≥", True, False, [580], float("nan"),
                                    D("Infinity"), "已完成"])
def test_unreadable_numeric_actual_raises(actual: object) -> None:
    with pytest.raises(IndicatorError, match="无法识别的实际完成值"):
        is_met(parse_indicator("≥560个", Y), actual)


@pytest.mark.parametrize(
    "actual, met",
    [
        (date(2024, 11, 30), True), (date(2024, 12, 1), False), (date(2024, 10, 1), True),
        (datetime(2024, 11, 30, 23, 59), True), (datetime(2024, 12, 1, 0, 0), False),
        ("2024-11-15", True), ("2024-11-30", True), ("2024-12-01", False), ("2024/12/1", False), ("2024.11.3", True),
        ("11月15日", True), ("11月30日", True), ("12月1日", False), ("2024年11月15日", True), ("2025年1月5日", False),
        ("１１月１５日", True), ("10月底", True), ("11月下旬", True),
    ],
)
def test_by_met(actual: object, met: bool) -> None:
    spec = parse_indicator("10-11月份", Y)  # due 2024-11-30
    assert is_met(spec, actual) is met


@pytest.mark.parametrize("actual", ["已完成", "2024-13-01", "2024-02-30", "2月30日", "长期", "明年", 20241115, True])
def test_unreadable_completion_date_raises(actual: object) -> None:
    with pytest.raises(IndicatorError, match="无法识别的完成日期"):
        is_met(parse_indicator("12月底前", Y), actual)


@pytest.mark.parametrize(
    "actual, met",
    [(True, True), ("是", True), ("已完成", True), ("持续开展", True), ("正常运转", True), (1, True),
     (False, False), ("否", False), ("未完成", False), ("未开展", False), (" 未开展 ", False), ("尚未开展", False),
     (0, False)],
)
def test_ongoing_met(actual: object, met: bool) -> None:
    assert is_met(parse_indicator("长期", Y), actual) is met


# --- parse_indicator_lines ------------------------------------------------------------------


def test_lines_example() -> None:
    cell = "新增中小学学位：≥25000个\n竣工投用中小学项目：≥19个\n完成时限：12月底前"
    got = parse_indicator_lines(cell, Y)
    assert [name for name, _ in got] == ["新增中小学学位", "竣工投用中小学项目", "完成时限"]
    assert spec_tuple(got[0][1]) == ("ge", D(25000), None, "个", None, "不少于25000个")
    assert spec_tuple(got[1][1]) == ("ge", D(19), None, "个", None, "不少于19个")
    assert spec_tuple(got[2][1]) == ("by", None, None, "", date(2024, 12, 31), "12月31日前完成")


def test_lines_colons_blanks_and_line_endings() -> None:
    cell = "\n  检查频次:≥100次 \r\n\n教师满意度 ： ≥90%\r\n\u3000\n维修工程完成时限：5月--10月\n"
    got = parse_indicator_lines(cell, Y)
    assert [(name, spec.raw, spec.comparator) for name, spec in got] == [
        ("检查频次", "≥100次", "ge"), ("教师满意度", "≥90%", "ge"), ("维修工程完成时限", "5月--10月", "by")]
    assert parse_indicator_lines("", Y) == []
    assert parse_indicator_lines(" \n \n", Y) == []


def test_lines_seed_002_function_2() -> None:
    # 职能2 (教育基本信息的统计) of seed 002 as one cell.
    cell = "\n".join([
        "支持信息系统建设数量：≥18个", "学校统计人员培训次数：≥30人次", "项目落地实施率：100%",
        "学校统计人员培训合格率：100%", "统计平台维护、统计人员培训时限：10-11月份", "学校满意度：≥95%",
    ])
    got = parse_indicator_lines(cell, Y)
    assert len(got) == 6
    assert got[4] == ("统计平台维护、统计人员培训时限", parse_indicator("10-11月份", Y))
    assert got[4][1].due == date(2024, 11, 30)


def test_lines_seed_002_function_4_has_a_duplicate_name() -> None:
    # Seed 002 lists 受益学生数 twice under 职能4 (≥3560人次 and ≥11800人): one cell cannot hold both.
    cell = "受益学校数：≥18所\n受益学生数：≥3560人次\n各项任务完成及时率：100%\n受益学生数：≥11800人"
    with pytest.raises(IndicatorError, match="受益学生数：≥11800人") as err:
        parse_indicator_lines(cell, Y)
    assert "重复" in str(err.value)


@pytest.mark.parametrize(
    "cell, line",
    [
        ("检查频次≥100次", "检查频次≥100次"),
        ("教师满意度：≥90%\n检查频次 100次", "检查频次 100次"),
        ("：≥90%", "：≥90%"),
        ("  :≥90%", ":≥90%"),
        ("教师满意度：", "教师满意度："),
        ("教师满意度：较高", "教师满意度：较高"),
        ("完成时限：2月30日前", "完成时限：2月30日前"),
    ],
)
def test_bad_lines_name_the_line(cell: str, line: str) -> None:
    with pytest.raises(IndicatorError) as err:
        parse_indicator_lines(cell, Y)
    assert f"“{line}”" in str(err.value)
    assert err.value.text == line


def test_bad_value_in_a_line_says_why() -> None:
    with pytest.raises(IndicatorError, match="2024年2月没有30日"):
        parse_indicator_lines("完成时限：2月30日前", Y)


def test_value_may_hold_a_colon_only_after_the_first() -> None:
    got = parse_indicator_lines("时限：12月底前", Y)
    assert got[0][0] == "时限"
    with pytest.raises(IndicatorError):
        parse_indicator_lines("开放时间：8:30", Y)


# --- properties -----------------------------------------------------------------------------

FULL = str.maketrans("0123456789.,%", "０１２３４５６７８９．，％")

numbers = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(Decimal),
    st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=1000, places=1, allow_nan=False, allow_infinity=False),
)
# No 月/年/日: with those a number reads as a date, which is the point of trying dates first.
units = st.one_of(
    st.sampled_from(["", "个", "%", "次", "人次", "万元", "所", "万个", "项", "人", "m²", "平方米", "‰"]),
    st.text(alphabet="个次人所万元项家台套件名篇场亿千百米", min_size=1, max_size=3),
)


def render(number: Decimal, style: str) -> str:
    if style == "grouped":
        return format(number, ",f")
    if style == "full":
        return format(number, "f").translate(FULL)
    return format(number, "f")


styles = st.sampled_from(["plain", "grouped", "full"])
GE_FORMS = ["≥{}", ">={}", "不低于{}", "不少于{}", "{}以上", "{}及以上", "＞＝{}", " ≥ {} "]
LE_FORMS = ["≤{}", "<={}", "不高于{}", "不超过{}", "{}以内", "{}以下", "＜＝{}"]


@given(numbers, units, styles, st.sampled_from(GE_FORMS + LE_FORMS))
def test_render_and_parse_ge_le(number: Decimal, unit: str, style: str, form: str) -> None:
    raw = form.format(render(number, style) + unit)
    spec = parse_indicator(raw, Y)
    assert spec.comparator == ("ge" if form in GE_FORMS else "le")
    assert spec.value == number
    assert spec.unit == unit
    assert spec.raw == raw.strip()
    # The label reads back to the same thing.
    again = parse_indicator(spec.label, Y)
    assert (again.comparator, again.value, again.unit) == (spec.comparator, spec.value, spec.unit)


@given(numbers, units, st.sampled_from([">{}", "<{}", "{}", "={}"]))
def test_render_and_parse_other_comparators(number: Decimal, unit: str, form: str) -> None:
    spec = parse_indicator(form.format(format(number, "f") + unit), Y)
    assert spec.comparator == {">{}": "gt", "<{}": "lt"}.get(form, "ge")
    assert spec.value == number and spec.unit == unit


@given(numbers, numbers, units, styles, st.sampled_from(["-", "~", "至", "—", "－", "--", "到"]), st.booleans())
def test_render_and_parse_between(a: Decimal, b: Decimal, unit: str, style: str, dash: str, both: bool) -> None:
    low, high = min(a, b), max(a, b)
    raw = render(low, style) + (unit if both else "") + dash + render(high, style) + unit
    spec = parse_indicator(raw, Y)
    assert (spec.comparator, spec.value, spec.value_to) == ("between", low, high)
    assert is_met(spec, low) and is_met(spec, high)


@given(numbers, units, numbers, numbers)
def test_ge_is_monotone(target: Decimal, unit: str, a: Decimal, b: Decimal) -> None:
    spec = parse_indicator(f"≥{target}{unit}", Y)
    small, large = min(a, b), max(a, b)
    if is_met(spec, small):
        assert is_met(spec, large)
    assert is_met(spec, target) is True
    assert is_met(spec, f"{large}{unit}") is is_met(spec, large)


@given(numbers, units, numbers, numbers)
def test_le_is_antitone(target: Decimal, unit: str, a: Decimal, b: Decimal) -> None:
    spec = parse_indicator(f"≤{target}{unit}", Y)
    small, large = min(a, b), max(a, b)
    if is_met(spec, large):
        assert is_met(spec, small)
    assert is_met(spec, target) is True


@given(numbers, numbers)
def test_strict_comparators_exclude_the_boundary(target: Decimal, actual: Decimal) -> None:
    gt, lt = parse_indicator(f">{target}", Y), parse_indicator(f"<{target}", Y)
    assert is_met(gt, actual) is (actual > target)
    assert is_met(lt, actual) is (actual < target)
    assert not (is_met(gt, actual) and is_met(lt, actual))


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2025, 12, 31)), st.sampled_from(
    ["10-11月份", "12月底前", "6月30日前", "5月--10月", "9月中旬", "年底前"]))
def test_by_met_iff_on_or_before_due(done: date, raw: str) -> None:
    spec = parse_indicator(raw, Y)
    assert spec.due is not None
    assert is_met(spec, done) is (done <= spec.due)
    assert is_met(spec, done.isoformat()) is (done <= spec.due)
    assume(done.year == Y)
    assert is_met(spec, f"{done.month}月{done.day}日") is (done <= spec.due)
    assert is_met(spec, spec.due) is True
    assert is_met(spec, spec.due + timedelta(days=1)) is False


def test_a_text_read_again_reads_as_it_did_first() -> None:
    """Each text is read once per plan year and remembered: read again (in any order, with other years between)
    it is what reading it afresh gives; the year stays part of what it reads as; an unreadable one raises each time."""
    from engine.plans.indicators import _parse, _reported_number

    texts = [raw for raw, _ in SEED_002] + [" ≥560个 ", "1月上旬", "12月底前", "90%-95%", "达到省定标准", "=100%"]
    for year in (2024, 2025, 2024):
        for raw in texts:
            assert parse_indicator(raw, year) == _parse.__wrapped__(raw, year)
    assert parse_indicator("12月底前", 2024).due == date(2024, 12, 31)
    assert parse_indicator("12月底前", 2025).due == date(2025, 12, 31)
    for _ in range(2):
        with pytest.raises(IndicatorError, match="2月30日"):
            parse_indicator("2月30日前", Y)
        with pytest.raises(IndicatorError, match="实际完成值"):
            is_met(parse_indicator("≥560个", Y), "约580个")
    for actual in ("580个", "1.2万人", " ≥600 ", "92.5%", "580个"):
        assert _reported_number(actual) == _reported_number.__wrapped__(actual)
    assert [is_met(parse_indicator("≥11800人", Y), "1.2万人") for _ in range(2)] == [True, True]
