"""Plan files over their limits are refused before they are read: YAML aliases, nesting, zip bombs."""
from __future__ import annotations

import pytest

from engine.plans import table
from tests.api import bombs


def test_yaml_aliases_beyond_the_bound_are_refused():
    with pytest.raises(table.PlanFileError, match="别名"):
        table.read(bombs.yaml_bomb(), "bomb.yaml")


def test_a_few_aliases_still_work():
    text = "common: &s 规划科\ntargets:\n- {编号: '1', 年度目标: 甲, 权重分值: 50, 完成时限: 12月底, 责任科室: *s}\n"
    rows = table.read(text.encode(), "plan.yaml").rows
    assert rows[0].cells["sections"] == "规划科"


def test_deep_nesting_is_refused():
    with pytest.raises(table.PlanFileError, match="嵌套"):
        table.read(b"targets: " + b"[" * 5000 + b"]" * 5000, "deep.yaml")


def test_an_xlsx_with_too_many_cells_is_refused_naming_the_limit():
    with pytest.raises(table.TableTooLarge) as refused:
        table.read(bombs.xlsx_bomb(table.MAX_XLSX_CELLS + 100), "cells.xlsx")
    assert str(table.MAX_XLSX_CELLS) in refused.value.limit


def test_an_xlsx_that_unpacks_too_large_is_refused_naming_the_limit():
    with pytest.raises(table.TableTooLarge) as refused:
        table.read(bombs.xlsx_bomb(20_000, padding=2000), "big.xlsx")
    assert "MiB" in refused.value.limit


def test_the_shipped_plan_is_within_the_limits():
    from pathlib import Path

    data = (Path(__file__).resolve().parents[3] / "workflows" / "plans" / "quanzhou-edu-2024.xlsx").read_bytes()
    assert len(table.read(data, "quanzhou-edu-2024.xlsx").rows) >= 57
