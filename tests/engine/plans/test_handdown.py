"""Handing targets down (下达) to county bureaus on import and by the office, rolling them up (汇总),
the parent's self-assessment guard and its override, on SQLite and PostgreSQL."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import select

from engine.people.actors import Actor
from engine.plans import assignment, handdown, importer, service, staffing, table as planfile
from engine.scoring import rollup
from engine.store.errors import Forbidden, GuardFailed, InvalidPayload, NotFound
from engine.store.models import Assignment, Indicator, Milestone, Organisation, Plan, Section, Target, TransitionRecord
from engine.workflow.commands import fire
from tests.engine.lifecycle import drive, step

SETUP = Actor("管理员", frozenset({"admin"}))
CITY, COUNTIES = "泉州市教育局", ("泉港区教育局", "丰泽区教育局", "鲤城区教育局")
# Rows in the manner of seed 003 (a city plan whose targets the county bureaus carry): the responsible
# unit is the city's section with 各县(市、区)教育局, the group alone (full-width brackets), or one county.
PLAN = """
plan: {org: 泉州市教育局, year: 2024, title: 泉州市教育局2024年度绩效工作方案}
milestones: {self_assessment_signed: 12月30日前, evaluation: 1月上旬}
targets:
  - {编号: "1-1-1", 类别: 重点工作目标（100分）, 一级指标: 学位扩容, 年度目标: 新增公办学位, 权重分值: 40,
     完成时限: 12月底前, 分管领导: [林长华], 责任科室: [规划科, 各县(市、区)教育局], 科室责任人: [洪玮玮],
     量化指标: [{name: 新增学位, value: "≥25000个"}]}
  - {编号: "1-1-2", 年度目标: 开展县域义务教育优质均衡督导, 权重分值: 30, 完成时限: 11月底前,
     分管领导: [林长华], 责任科室: [各县（市、区）教育局], 科室责任人: [洪玮玮]}
  - {编号: "1-1-3", 年度目标: 推进泉港区学校布局调整, 权重分值: 20, 完成时限: 12月底前,
     分管领导: [林长华], 责任科室: [泉港区教育局], 科室责任人: [洪玮玮]}
  - {编号: "1-1-4", 年度目标: 机关党建, 权重分值: 10, 完成时限: 12月底前,
     分管领导: [林长华], 责任科室: [办公室], 科室责任人: [黄洺鋆]}
"""


def _tree(session) -> dict[str, Organisation]:
    city = staffing.add_organisation(session=session, by=SETUP, name=CITY, kind="bureau")
    found = {CITY: city}
    for name in COUNTIES:
        found[name] = staffing.add_organisation(session=session, by=SETUP, name=name, parent=CITY, kind="county")
    found["泉州第五中学"] = staffing.add_organisation(session=session, by=SETUP, name="泉州第五中学", parent=CITY,
                                                kind="school")
    return found


def _import(session, text: str = PLAN):
    draft = importer.parse(planfile.read(text.encode(), "p.yaml"), "p.yaml")
    assert draft.errors == []
    return service.apply(session=session, draft=draft, actor=Actor("绩效办", frozenset({"office"})))


def _parent(session, code: str, org: Organisation) -> Target:
    return session.exec(select(Target).where(Target.org_id == org.id, Target.code == code)).one()


def _people(org: Organisation) -> dict[str, Actor]:
    return {"office": Actor(f"{org.name}绩效办", frozenset({"office"}), org_id=org.id),
            "staff": Actor("王伟", frozenset({"staff"}), frozenset({"基教股"}), org_id=org.id),
            "leader": Actor("陈明", frozenset({"leader"}), org_id=org.id)}


def _run_child(session, child: Target, org: Organisation, state: str, **score) -> None:
    people = _people(org)
    assignment.assign(session=session, target_id=child.id, actor=people["office"], sections=["基教股"],
                      leaders=["陈明"], persons=["王伟"])
    drive(session, child.id, "verified" if score else state, staff=people["staff"], leaders=[people["leader"]],
          office=people["office"])
    if score:
        step(session, child.id, "score", people["office"], payload=score)


def test_import_hands_rows_naming_counties_down_to_each_county(session):
    orgs = _tree(session)
    result = _import(session)
    assert result.created == 4 and result.handed_down == 3 + 3 + 1
    counties = [orgs[n] for n in COUNTIES]
    for code, expected in (("1-1-1", counties), ("1-1-2", counties), ("1-1-3", [orgs["泉港区教育局"]])):
        parent = _parent(session, code, orgs[CITY])
        children = handdown.children_of(session, parent.id)
        assert sorted(c.org_id for c in children) == sorted(o.id for o in expected)
        for child in children:
            assert (child.parent_id, child.code, child.text, child.weight, child.due_date, child.deadline_phrase) == \
                (parent.id, parent.code, parent.text, parent.weight, parent.due_date, parent.deadline_phrase)
            assert child.state == "assigned"
            plan = session.get(Plan, child.plan_id)
            assert (plan.org_id, plan.year) == (child.org_id, 2024)
            record = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == child.id)).one()
            assert (record.kind, record.comment, record.payload["parent_id"]) == ("creation", handdown.COMMENT, parent.id)
    assert handdown.children_of(session, _parent(session, "1-1-4", orgs[CITY]).id) == []
    # The school is not a county: nothing reached it.
    assert session.exec(select(Target).where(Target.org_id == orgs["泉州第五中学"].id)).all() == []
    # Each county's plan has the city plan's milestones; its target the city target's indicators.
    quangang = session.exec(select(Plan).where(Plan.org_id == orgs["泉港区教育局"].id)).one()
    city_plan = session.exec(select(Plan).where(Plan.org_id == orgs[CITY].id)).one()

    def milestones(plan):
        return dict(session.exec(select(Milestone.key, Milestone.due_date).where(Milestone.plan_id == plan.id)).all())

    assert milestones(quangang) == milestones(city_plan) and len(milestones(quangang)) == 3
    child = session.exec(select(Target).where(Target.plan_id == quangang.id, Target.code == "1-1-1")).one()
    assert [(i.name, i.raw) for i in session.exec(select(Indicator).where(Indicator.target_id == child.id))] == \
        [("新增学位", "≥25000个")]


def test_units_naming_counties_make_no_sections_of_the_city(session):
    """各县(市、区)教育局 and 泉港区教育局 are handed down to, not sections of the city; a single
    organisation (no children) keeps such a phrase as written."""
    orgs = _tree(session)
    _import(session)

    def sections(org):
        return set(session.exec(select(Section.name).where(Section.org_id == org.id)))

    assert sections(orgs[CITY]) == {"规划科", "办公室"}
    assert all(sections(orgs[name]) == set() for name in COUNTIES)
    # The row still says who carries it: the assignment keeps the phrase, which is how it was handed down.
    parent = _parent(session, "1-1-2", orgs[CITY])
    assert session.exec(select(Assignment.name).where(Assignment.target_id == parent.id,
                                                      Assignment.kind == "section")).all() == ["各县（市、区）教育局"]


def test_a_lone_organisation_keeps_a_group_phrase_as_its_section(session):
    alone = staffing.add_organisation(session=session, by=SETUP, name=CITY, kind="bureau")
    assert _import(session).handed_down == 0
    assert set(session.exec(select(Section.name).where(Section.org_id == alone.id))) == \
        {"规划科", "各县(市、区)教育局", "各县（市、区）教育局", "泉港区教育局", "办公室"}


def test_handing_down_again_creates_nothing(session):
    orgs = _tree(session)
    _import(session)
    count = len(session.exec(select(Target.id)).all())
    records = len(session.exec(select(TransitionRecord.id)).all())
    assert _import(session).handed_down == 0
    office = Actor("绩效办", frozenset({"office"}), org_id=orgs[CITY].id)
    parent = _parent(session, "1-1-1", orgs[CITY])
    assert handdown.hand_down(session=session, target_id=parent.id, actor=office) == []
    assert len(session.exec(select(Target.id)).all()) == count
    # The office hands a target down later, to the counties it names: one new child each, then nothing.
    own = _parent(session, "1-1-4", orgs[CITY])
    made = handdown.hand_down(session=session, target_id=own.id, actor=office, to=["丰泽区教育局", "鲤城区教育局"])
    assert sorted(t.org_id for t in made) == sorted([orgs["丰泽区教育局"].id, orgs["鲤城区教育局"].id])
    assert handdown.hand_down(session=session, target_id=own.id, actor=office, to=["各县(市、区)教育局"])[0].org_id == \
        orgs["泉港区教育局"].id
    assert handdown.hand_down(session=session, target_id=own.id, actor=office, to=["各县(市、区)教育局"]) == []
    assert len(session.exec(select(TransitionRecord.id)).all()) == records + 3  # one creation record each


def test_only_the_own_office_hands_down_and_names_must_be_children(session):
    orgs = _tree(session)
    _import(session)
    parent = _parent(session, "1-1-4", orgs[CITY])
    county_office = _people(orgs["泉港区教育局"])["office"]
    with pytest.raises(NotFound):  # the city's target does not exist for a county
        handdown.hand_down(session=session, target_id=parent.id, actor=county_office)
    with pytest.raises(Forbidden):
        handdown.hand_down(session=session, target_id=parent.id,
                           actor=Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}), org_id=orgs[CITY].id))
    office = Actor("绩效办", frozenset({"office"}), org_id=orgs[CITY].id)
    with pytest.raises(InvalidPayload, match="晋江市教育局"):
        handdown.hand_down(session=session, target_id=parent.id, actor=office, to=["晋江市教育局"])
    with pytest.raises(InvalidPayload, match="没有写下级单位"):
        handdown.hand_down(session=session, target_id=parent.id, actor=office)
    child = handdown.children_of(session, _parent(session, "1-1-1", orgs[CITY]).id)[0]
    sibling = next(o for o in orgs.values() if o.kind == "county" and o.id != child.org_id)
    with pytest.raises(NotFound):  # another county's office does not even see it
        assignment.assign(session=session, target_id=child.id, actor=_people(sibling)["office"], sections=["股"],
                          leaders=["某"])


def test_a_child_scored_changes_the_parents_rollup(session):
    orgs = _tree(session)
    _import(session)
    parent = _parent(session, "1-1-1", orgs[CITY])
    before = rollup.of(session=session, target=parent)
    assert (before.rule, len(before.children), before.progress, before.scored, before.suggested_score) == \
        ("average", 3, 0, 0, None)
    assert [line.organisation for line in before.children] == list(COUNTIES)
    quangang = orgs["泉港区教育局"]
    child = next(c for c in handdown.children_of(session, parent.id) if c.org_id == quangang.id)
    people = _people(quangang)
    assignment.assign(session=session, target_id=child.id, actor=people["office"], sections=["基教股"],
                      leaders=["陈明"], persons=["王伟"])
    step(session, child.id, "start", people["staff"])
    fire(session=session, target_id=child.id, trigger="report_progress", actor=people["staff"],
         payload={"note": "已开工", "percent": 60, "indicators": {"新增学位": "9000个"}})
    middle = rollup.of(session=session, target=parent)
    assert middle.progress == 20 and middle.indicators == {"新增学位": Decimal("9000.00")}
    assert middle.children[0].indicators == {"新增学位": "9000个"} and middle.children[0].state == "in_progress"
    for trigger in ("self_assess", "sign", "verify"):
        step(session, child.id, trigger, people["leader"] if trigger == "sign" else
             people["staff"] if trigger == "self_assess" else people["office"])
    step(session, child.id, "score", people["office"], payload={"score": 30, "score_reason": "部分学位未交付"})
    after = rollup.of(session=session, target=parent)
    line = next(line for line in after.children if line.org_id == quangang.id)
    assert (line.state, line.score, line.finished) == ("scored", Decimal(30), True)
    assert (after.progress, after.finished, after.scored, after.suggested_score) == (round(100 / 3), 1, 1, None)
    # The others scored too: the suggested score follows the rule (average, minimum, weighted, all).
    for name, points in (("丰泽区教育局", 40), ("鲤城区教育局", 20)):
        other = next(c for c in handdown.children_of(session, parent.id) if c.org_id == orgs[name].id)
        _run_child(session, other, orgs[name], "scored", score=points, score_reason="按完成情况")
    assert rollup.of(session=session, target=parent).suggested_score == Decimal("30.00")  # 40 × mean(.75, 1, .5)
    expectations = {"minimum": Decimal("20.00"), "all": Decimal("40.00")}
    for rule, expected in expectations.items():
        parent.rollup = rule
        assert rollup.of(session=session, target=parent).suggested_score == expected
    parent.rollup = "weighted"
    for child_target in handdown.children_of(session, parent.id):
        child_target.rollup_weight = Decimal(2) if child_target.org_id == orgs["丰泽区教育局"].id else Decimal(1)
    session.flush()
    assert rollup.of(session=session, target=parent).suggested_score == Decimal("32.50")  # 40 × (.75 + 2×1 + .5) / 4
    session.rollback()


def test_parent_self_assessment_waits_for_children_unless_the_office_allows_it(session):
    orgs = _tree(session)
    _import(session)
    parent = _parent(session, "1-1-1", orgs[CITY])
    staff = Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}), org_id=orgs[CITY].id)
    office = Actor("绩效办", frozenset({"office"}), org_id=orgs[CITY].id)
    step(session, parent.id, "start", staff)
    with pytest.raises(GuardFailed, match="泉港区教育局") as refused:
        step(session, parent.id, "self_assess", staff)
    assert refused.value.details["guard"] == "children_verified"
    # A county's people cannot act on the city's target at all: to them it does not exist.
    county = _people(orgs["泉港区教育局"])
    for trigger, who in (("allow_self_assess", county["office"]), ("report_progress", county["staff"])):
        with pytest.raises(NotFound):
            fire(session=session, target_id=parent.id, trigger=trigger, actor=who,
                 payload={"reason": "急需", "note": "x", "percent": 1})
    with pytest.raises(InvalidPayload):  # the reason is required
        fire(session=session, target_id=parent.id, trigger="allow_self_assess", actor=office, payload={})
    fire(session=session, target_id=parent.id, trigger="allow_self_assess", actor=office,
         payload={"reason": "年度考核提前，下级单位数据另行报送"})
    record = session.exec(select(TransitionRecord).where(TransitionRecord.target_id == parent.id)
                          .order_by(TransitionRecord.id.desc())).first()
    assert (record.trigger, record.actor, record.payload["reason"]) == \
        ("allow_self_assess", "绩效办", "年度考核提前，下级单位数据另行报送")
    step(session, parent.id, "self_assess", staff)
    assert session.get(Target, parent.id).state == "self_assessed"


def test_a_list_offers_the_early_self_assessment_as_each_target_would_in_the_same_statements(session):
    """The office's lists judge 准予先行自评 from facts read once for the list: the same actions as the
    target alone, and no more statements for four rows than for one."""
    from sqlalchemy import event

    from engine.scoring import dashboard
    from engine.workflow import commands

    orgs = _tree(session)
    _import(session)
    staff = Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科", "办公室", "各县（市、区）教育局", "泉港区教育局"}),
                  org_id=orgs[CITY].id)
    office = Actor("绩效办", frozenset({"office"}), org_id=orgs[CITY].id)
    rows = session.exec(select(Target).where(Target.org_id == orgs[CITY].id).order_by(Target.code)).all()
    for target in rows:
        step(session, target.id, "start", staff)
    allowed = _parent(session, "1-1-2", orgs[CITY])
    fire(session=session, target_id=allowed.id, trigger="allow_self_assess", actor=office, payload={"reason": "提前考核"})
    rows = session.exec(select(Target).where(Target.org_id == orgs[CITY].id).order_by(Target.code)).all()

    def offered(found):
        return {i.target.code: "allow_self_assess" in [a.spec.trigger for a in i.actions]
                for i in dashboard.items(session, found, office)}

    sent = []

    def count(*_args):
        sent.append(1)

    event.listen(session.get_bind(), "before_cursor_execute", count)
    try:
        alone = offered(rows[:1])
        one = len(sent)
        together = offered(rows)
        many = len(sent) - one
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", count)
    # 1-1-1 and 1-1-3 have children not yet verified; 1-1-2 was allowed already; 1-1-4 was handed to nobody.
    assert together == {"1-1-1": True, "1-1-2": False, "1-1-3": True, "1-1-4": False} and alone == {"1-1-1": True}
    assert many == one
    for target in rows:  # the same answer as the target alone, its guard reading for itself
        assert together[target.code] == ("allow_self_assess" in [a.spec.trigger for a in commands.available(
            session=session, target=target, actor=office)])


def test_parent_self_assesses_once_every_child_is_verified(session):
    orgs = _tree(session)
    _import(session)
    parent = _parent(session, "1-1-3", orgs[CITY])
    (child,) = handdown.children_of(session, parent.id)
    staff = Actor("洪玮玮", frozenset({"staff"}), frozenset({"泉港区教育局"}), org_id=orgs[CITY].id)
    step(session, parent.id, "start", staff)
    _run_child(session, child, orgs["泉港区教育局"], "verified")
    step(session, parent.id, "self_assess", staff)
    assert session.get(Target, parent.id).state == "self_assessed"
