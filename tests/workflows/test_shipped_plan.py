"""The shipped 2024 plan matches the seed's table row by row (fixture written from the seed)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
import yaml
from sqlmodel import func, select

from engine.plans import importer, table as planfile, service as plans
from engine.people.actors import Actor
from engine.store.models import Milestone, Plan, Target
from engine.workflow.targets import parties_of

FIXTURE = yaml.safe_load((Path(__file__).parent / "fixtures" / "plan2024_expected.yaml").read_text("utf-8"))
CATEGORY_NAMES = {"key_work": "重点工作目标", "capacity": "行政能力目标", "civilisation": "精神文明建设成效",
                  "safety": "平安建设成效"}
EVERY = {"sections": "各科室", "leaders": "各分管领导", "persons": "各科长"}
ADMIN = Actor("管理员", frozenset({"admin"}))


def _draft(name: str) -> importer.PlanDraft:
    data = resources.files("workflows").joinpath("plans", name).read_bytes()
    return importer.parse(planfile.read(data, name), name, org="泉州市教育局")


def _expected(entry: dict, field: str) -> list[str]:
    """The fixture writes 各科室 etc. as the table does; the import means every one of them."""
    names = entry[field]
    if EVERY[field] not in names:
        return names
    everyone = list(dict.fromkeys(n for e in FIXTURE["targets"] for n in e[field] if n != EVERY[field]))
    at = names.index(EVERY[field])
    return list(dict.fromkeys(names[:at] + everyone + names[at + 1:]))


@pytest.mark.parametrize("name", ["quanzhou-edu-2024.csv", "quanzhou-edu-2024.xlsx"])
def test_shipped_plan_matches_the_seed_table(name):
    draft = _draft(name)
    assert draft.errors == []
    assert (draft.org, draft.year) == ("泉州市教育局", 2024)
    assert [d.code for d in draft.targets] == [e["code"] for e in FIXTURE["targets"]]
    for d, e in zip(draft.targets, FIXTURE["targets"], strict=True):
        assert d.weight == Decimal(str(e["weight"])), d.code
        assert d.deadline_phrase == e["deadline"], d.code
        assert d.due_date == e["due"], d.code
        assert d.category == CATEGORY_NAMES[e["category"]], d.code
        for field in ("leaders", "sections", "persons"):
            assert getattr(d, field) == _expected(e, field), (d.code, field)
    assert draft.categories == {CATEGORY_NAMES[k]: Decimal(v) for k, v in FIXTURE["category_points"].items()}
    for prefix, points in FIXTURE["indicator_points"].items():
        members = [d for d in draft.targets if d.code == prefix or d.code.startswith(prefix + "-")]
        assert sum(d.weight for d in members) == Decimal(str(points)), prefix
        if members[0].indicator_points is not None:
            assert members[0].indicator_points == Decimal(str(points)), prefix
    assert sum(d.weight for d in draft.targets) == 100
    assert {key: due for key, _, _, due in draft.milestones} == {
        "self_assessment_signed": date(2024, 12, 30), "evaluation": date(2025, 1, 10), "summary": date(2025, 1, 20)}


def test_shipped_xlsx_and_csv_are_the_same_plan():
    csv_draft, xlsx_draft = _draft("quanzhou-edu-2024.csv"), _draft("quanzhou-edu-2024.xlsx")
    assert [vars(d) | {"row": 0} for d in csv_draft.targets] == [vars(d) | {"row": 0} for d in xlsx_draft.targets]


def test_shipped_plan_imports_and_reimports_without_duplicates(session):
    draft = _draft("quanzhou-edu-2024.xlsx")
    first = plans.apply(session=session, draft=draft, actor=ADMIN)
    assert (first.created, first.updated, first.unchanged) == (57, 0, 0)
    again = plans.apply(session=session, draft=_draft("quanzhou-edu-2024.csv"), actor=ADMIN)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 57)
    assert session.exec(select(func.count()).select_from(Target)).one() == 57
    assert session.exec(select(func.count()).select_from(Plan)).one() == 1
    assert session.exec(select(func.sum(Target.weight))).one() == 100
    t = session.exec(select(Target).where(Target.code == "1-7-2")).one()
    assert parties_of(session, t.id).leaders == ("陈军宣", "蔡玉霖")
    assert (t.state, str(t.state_due)) == ("assigned", "2024-12-31")
    assert session.exec(select(func.count()).select_from(Milestone)).one() == 3
