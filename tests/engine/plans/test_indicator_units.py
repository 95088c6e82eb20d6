"""Indicators compared in one unit (千, 万, 亿, %, ‰, 百分比), other units refused, qualitative words met.

The data of seed 002 is transcribed by hand in ``data/seed_002_indicators.yaml``.
"""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from engine.plans.indicators import IndicatorError, UnitMismatch, in_target_unit, is_met, parse_indicator, split_unit

Y = 2024
D = Decimal
SEED = yaml.safe_load((Path(__file__).parent / "data" / "seed_002_indicators.yaml").read_text("utf-8"))
READINGS = SEED["readings"]


@pytest.mark.parametrize("row", SEED["indicators"], ids=lambda row: f"{row[0]}-{row[3]}")
def test_every_seed_002_value_parses(row):
    spec = parse_indicator(row[4], SEED["year"])
    assert spec.comparator == READINGS[row[4]][0]


def test_every_value_of_the_table_has_its_readings():
    assert {row[4] for row in SEED["indicators"]} == set(READINGS)
    assert {comparator for comparator, *_ in READINGS.values()} == {"ge", "by", "ongoing"}


@pytest.mark.parametrize("raw", sorted(READINGS))
def test_met_unmet_and_refused_as_a_reader_expects(raw):
    comparator, met, unmet, other_unit = READINGS[raw]
    spec = parse_indicator(raw, Y)
    assert [is_met(spec, actual) for actual in met] == [True] * len(met)
    assert [is_met(spec, actual) for actual in unmet] == [False] * len(unmet)
    for actual in other_unit:
        with pytest.raises(UnitMismatch) as err:
            is_met(spec, actual)
        assert spec.raw in str(err.value) and err.value.unit in str(err.value)


@pytest.mark.parametrize(
    "raw, actual, met",
    [
        ("≥2.5万个", "3个", False),  # 3 is not 25 000
        ("≥2.5万个", "2.6万个", True), ("≥2.5万个", "25000个", True), ("≥2.5万个", "24999个", False),
        ("≥2亿元", "15000万元", False), ("≥2亿元", "20000万元", True), ("≥2亿元", "2.1亿元", True),
        ("≥11800人", "1.2万人", True), ("≥11800人", "1.1万人", False),
        ("≥5千元", "5000元", True), ("≥5千元", "4999元", False), ("≤3‰", "0.3%", True), ("≤3‰", "0.31%", False),
        ("≥90百分比", "91%", True), ("≥90%", "百分之89", False), ("≥1000万元", "0.1亿元", True),
        ("≤5次", "5次", True), ("90%-95%", "925‰", True), ("90%-95%", "960‰", False),
        ("≥2.5万个", "2.4万", False),  # a multiplier alone is in the target's unit proper
        ("≥2.5万个", "2.6", True),  # a bare number is in the unit as written
        ("12", "13个", True),  # a target without a unit takes the report's
    ],
)
def test_numbers_are_compared_in_one_unit(raw, actual, met):
    assert is_met(parse_indicator(raw, Y), actual) is met


def test_another_unit_is_refused_naming_both():
    with pytest.raises(UnitMismatch) as err:
        is_met(parse_indicator("≥2.5万个", Y), "3人")
    assert "“人”" in str(err.value) and "“个”" in str(err.value) and "≥2.5万个" in str(err.value)
    assert isinstance(err.value, IndicatorError)
    with pytest.raises(UnitMismatch, match="“%”"):
        is_met(parse_indicator("≥18所", Y), "95%")


def test_split_unit_and_conversion():
    assert split_unit("万个") == ("个", D(10000))
    assert split_unit("亿元") == ("元", D(10) ** 8)
    assert split_unit("‰") == ("%", D("0.1"))
    assert split_unit("人次") == ("人次", D(1))
    assert in_target_unit(parse_indicator("≥2亿元", Y), "15000万元") == D("1.5")
    assert in_target_unit(parse_indicator("≥11800人", Y), "1.2万人") == D(12000)


@pytest.mark.parametrize(
    "raw, met, unmet",
    [
        ("完成", ["是", "完成", "已完成", "全部完成"], ["否", "未完成", "尚未完成"]),
        ("达到省定标准", ["是", "达到", "已达到省定标准", "达标"], ["否", "未达到", "未达到省定标准", "不达标"]),
        ("通过验收", ["是", "通过", "已通过验收", True], ["否", "未通过", "未通过验收", False]),
        ("是/否", ["是"], ["否"]),
    ],
)
def test_qualitative_indicators_are_met_by_their_words(raw, met, unmet):
    spec = parse_indicator(raw, Y)
    assert (spec.comparator, spec.label) == ("words", raw)
    assert [is_met(spec, actual) for actual in met] == [True] * len(met)
    assert [is_met(spec, actual) for actual in unmet] == [False] * len(unmet)
    assert is_met(spec, " ") is None
    with pytest.raises(IndicatorError, match="应写明是否达到"):
        is_met(spec, "还行")


def test_the_sheet_measures_an_unmet_value_in_the_targets_unit(session):
    from engine.scoring import sheet as scoring
    from tests.engine.scoring.test_sheet import reported

    plan_id = reported(session, "新增学位：≥2.5万个\\n验收：通过验收", {"新增学位": "2万个", "验收": "已通过验收"})
    line = next(x for x in scoring.sheet(session=session, plan_id=plan_id).lines if x.target.code == "1-1")
    # Weight 30, two indicators of 15: 验收 met (15); 新增学位 reached 20 000 of 25 000 (12).
    assert (line.indicator_score, line.unmet) == (D(27), ["新增学位"])


def test_a_report_in_another_unit_is_refused_at_the_door(session):
    from sqlmodel import select

    from engine.store.errors import GuardFailed
    from engine.store.models import Indicator, Target
    from tests.engine.scoring.test_sheet import reported

    with pytest.raises(GuardFailed, match=r"指标“新增学位”：.*单位“人”与指标值“≥2.5万个”的单位“个”不一致"):
        reported(session, "新增学位：≥2.5万个", {"新增学位": "3人"})
    session.rollback()
    target = session.exec(select(Target).where(Target.code == "1-1")).one()
    assert target.state == "in_progress"  # started; the report did not go through
    assert session.exec(select(Indicator.actual).where(Indicator.target_id == target.id)).one() is None
