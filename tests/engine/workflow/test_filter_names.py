"""The section and leader names the target filters offer: distinct, sorted, of the viewer's organisation."""
from __future__ import annotations

from engine.people.actors import Actor, actor_of
from engine.workflow import targets
from tests import factories as f


def test_names_are_distinct_sorted_and_of_the_viewers_organisation(session):
    f.organisation(session, "泉州市教育局")
    f.organisation(session, "南安市教育局", parent="泉州市教育局", kind="county")
    f.target_of(session, "泉州市教育局", code="1-1", sections=("规划科", "财务科"), leaders=("林长华",))
    f.target_of(session, "泉州市教育局", code="1-2", sections=("财务科",), leaders=("林长华", "庄映峰"))
    f.target_of(session, "南安市教育局", code="1-1", sections=("办公室", "规划科"), leaders=("陈南安",))
    office = actor_of(session, f.member(session, "泉州市教育局", "市绩效办", ["office"]))
    county = actor_of(session, f.member(session, "南安市教育局", "南安绩效办", ["office"]))
    empty = f.organisation(session, "泉州第五中学", parent="泉州市教育局", kind="school")
    school = Actor(name="无目标", roles=frozenset({"office"}), org_id=empty.id)
    session.commit()

    assert targets.section_names(session, office) == sorted(["规划科", "财务科"])
    assert targets.leader_names(session, office) == sorted(["林长华", "庄映峰"])
    assert targets.section_names(session, county) == sorted(["办公室", "规划科"])
    assert targets.leader_names(session, county) == ["陈南安"]
    assert targets.section_names(session, school) == [] and targets.leader_names(session, school) == []
    # The system reads every organisation: every name, once.
    assert targets.section_names(session) == sorted(["办公室", "规划科", "财务科"])
    assert targets.leader_names(session, Actor.system()) == sorted(["林长华", "庄映峰", "陈南安"])
