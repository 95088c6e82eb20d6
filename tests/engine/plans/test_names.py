"""Names on import: brackets and quotes keep a name whole, run-together names and abbreviations are
reported before writing, aliases merge sections, and columns the engine does not read are kept."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from engine.people import organisations
from engine.plans import importer, names, service, table as planfile
from engine.plans.exporter import write_xlsx
from engine.store.models import Plan, Section, Target
from engine.workflow.targets import parties_of
from tests import factories as f
from tests.cli_runner import kaoping

HEADER = ["编号", "年度目标", "权重分值", "完成时限", "分管领导", "责任科室", "科室责任人", "考评依据", "备注"]
ROWS = [
    ["1-1", "办好双语学校", "40", "12月底前", "陈军宣蔡玉霖", "中教科、高教科", "张少杰", "泉委发〔2024〕4号", ""],
    ["1-2", "抓好高校毕业生就业", "30", "12月底前", "陈军宣", "各县(市、区)教育局、高教科", "林明儒", "", "市政府工作报告"],
    ["1-3", "巩固深化“双减”成果", "30", "12月底前", "蔡玉霖", "民管/\n中教科", "曾玲", "", ""],
]


def _csv(rows, header=HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _draft(data: bytes, name="plan-2024.csv", **kw):
    return importer.parse(planfile.read(data, name), name, org="泉州市教育局", **kw)


@pytest.mark.parametrize(("cell", "expected"), [
    ("各县(市、区)教育局", ["各县(市、区)教育局"]),
    ("各县（市、区）教育局、规划科", ["各县（市、区）教育局", "规划科"]),
    ("〔2024〕4号、【重点】办公室", ["〔2024〕4号", "【重点】办公室"]),
    ("《中小学、幼儿园》专班，规划科", ["《中小学、幼儿园》专班", "规划科"]),
    ("“双减、课后服务”专班 规划科", ["“双减、课后服务”专班", "规划科"]),
    ("\"a, b\" 组织科", ["\"a, b\"", "组织科"]),
    ("民管/\n中教/\n初幼教", ["民管", "中教", "初幼教"]),
    ("组织科（党建、办公室", ["组织科（党建", "办公室"]),  # an unclosed bracket does not swallow the cell
])
def test_separators_inside_brackets_and_quotes_belong_to_the_name(cell, expected):
    assert importer.split_names(cell) == expected


def test_a_bracketed_section_is_one_section_in_the_draft():
    draft = _draft(_csv(ROWS))
    assert draft.errors == []
    assert draft.targets[1].sections == ["各县(市、区)教育局", "高教科"]


def test_run_together_leaders_are_reported_with_the_split_before_writing(session):
    draft = _draft(_csv(ROWS))
    warnings = names.review(session=session, draft=draft)
    split = [w for w in warnings if "陈军宣蔡玉霖" in w]
    assert len(split) == 1 and "“陈军宣”、“蔡玉霖”连写" in split[0] and "第 2 行" in split[0]
    assert session.exec(select(Plan)).first() is None  # reviewing writes nothing


def test_split_of_known_names():
    assert names.split_of("陈军宣蔡玉霖", {"陈军宣", "蔡玉霖"}) == ["陈军宣", "蔡玉霖"]
    assert names.split_of("蔡吉生蔡玉霖纪如", {"蔡吉生", "蔡玉霖", "纪如"}) == ["蔡吉生", "蔡玉霖", "纪如"]
    assert names.split_of("林长华", {"林长", "华"}) is None  # one-character parts are no names
    assert names.split_of("陈军宣", {"陈军宣"}) is None


def test_names_matching_no_user_are_reported(session):
    for name in ("陈军宣", "蔡玉霖", "张少杰", "林明儒"):
        f.user(session, name, ["leader"])
    session.commit()
    warnings = names.review(session=session, draft=_draft(_csv(ROWS)))
    assert any("科室责任人“曾玲”" in w and "不是系统中的用户" in w for w in warnings)
    assert not any("“张少杰”" in w for w in warnings)
    # The run-together name is not reported twice (as unknown and as a split).
    assert len([w for w in warnings if "陈军宣蔡玉霖" in w]) == 1


def test_abbreviated_sections_are_reported_with_the_alias_to_use(session):
    session.add(Section(org_id=organisations.default(session).id, name="民管科"))
    session.commit()
    warnings = names.review(session=session, draft=_draft(_csv(ROWS)))
    found = [w for w in warnings if "责任科室“民管”" in w]
    assert len(found) == 1 and "民管=民管科" in found[0]
    assert names.abbreviates("初幼教", "初中幼教科") and not names.abbreviates("规划科", "组织科")


def test_an_alias_merges_the_sections(session):
    draft = _draft(_csv(ROWS), aliases=importer.parse_aliases(["民管=民管科"]))
    assert draft.errors == [] and draft.targets[2].sections == ["民管科", "中教科"]
    assert not any("民管" in w for w in names.review(session=session, draft=draft))
    service.apply(session=session, draft=draft, actor=f.ADMIN)
    assert set(session.exec(select(Section.name))) == {"中教科", "高教科", "各县(市、区)教育局", "民管科"}


def test_yaml_aliases_and_extra_columns():
    text = """
plan: {org: 泉州市教育局, year: 2024}
aliases: {民管: 民管科}
targets:
  - {编号: "1-1", 年度目标: 巩固深化双减成果, 权重分值: 100, 完成时限: 12月底前, 分管领导: 蔡玉霖,
     责任科室: "民管/中教科", extra: {备注: 联合多部门}}
"""
    draft = _draft(text.encode(), "plan.yaml")
    assert draft.errors == []
    assert draft.targets[0].sections == ["民管科", "中教科"] and draft.targets[0].extra_columns == {"备注": "联合多部门"}
    bad = _draft(text.replace("{民管: 民管科}", "{民管: 民管}").encode(), "plan.yaml")
    assert any(e.column == "科室别名" for e in bad.errors)
    with pytest.raises(planfile.PlanFileError, match="extra"):
        _draft(text.replace("extra:", "考评依据:").encode(), "plan.yaml")


def test_unknown_columns_are_kept_shown_and_exported(session):
    service.apply(session=session, draft=_draft(_csv(ROWS)), actor=f.ADMIN)
    first, second = (session.exec(select(Target).where(Target.code == c)).one() for c in ("1-1", "1-2"))
    assert first.extra_columns == {"考评依据": "泉委发〔2024〕4号"}
    assert second.extra_columns == {"备注": "市政府工作报告"}
    assert parties_of(session, second.id).sections == ("各县(市、区)教育局", "高教科")
    data = write_xlsx(session, first.plan_id)
    sheet = load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[2]]
    assert header[-2:] == ["考评依据", "备注"]
    again = importer.parse(planfile.read(data, "export.xlsx"), "export.xlsx")
    assert [d.extra_columns for d in again.targets] == [d.extra_columns for d in _draft(_csv(ROWS)).targets]
    # A re-import that changes a kept column updates it (an amendment, like any other field).
    changed = [row[:] for row in ROWS]
    changed[0][7] = "泉委发〔2024〕5号"
    result = service.apply(session=session, draft=_draft(_csv(changed)), actor=f.ADMIN)
    assert result.updated == 1
    session.expire_all()
    assert session.get(Target, first.id).extra_columns == {"考评依据": "泉委发〔2024〕5号"}


def test_cli_prints_the_warnings_and_takes_aliases(tmp_path):
    plan = tmp_path / "plan-2024.csv"
    plan.write_bytes(_csv(ROWS))
    env = {"KAOPING_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    run = lambda *args: kaoping(*args, env=env)  # noqa: E731
    assert run("init").returncode == 0
    dry = run("import-plan", str(plan), "--org", "泉州市教育局", "--dry-run")
    assert dry.returncode == 0 and "请核对" in dry.stdout and "“陈军宣”、“蔡玉霖”连写" in dry.stdout
    done = run("import-plan", str(plan), "--org", "泉州市教育局", "--alias", "民管=民管科")
    assert done.returncode == 0 and "新增 3" in done.stdout, done.stdout + done.stderr
    assert "“民管”" not in done.stdout
