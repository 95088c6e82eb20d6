"""The target list by keyset: walking every page after (and before) the place of a row finds each matching
target once, in the order of the offset pages, for every order, filter and scope; a place that is not one is
refused; targets added or changed during a walk do not break it."""
from __future__ import annotations

import base64
import json
from datetime import date, timedelta

import pytest

from engine.people.actors import actor_of
from engine.store.errors import InvalidPayload
from engine.workflow import targets
from tests import factories as f

SORTS = [None, "code", "state", "weight"]
FILTERS = [targets.TargetFilter(), targets.TargetFilter(state="in_progress"), targets.TargetFilter(section="财务科"),
           targets.TargetFilter(q="扩容"), targets.TargetFilter(overdue=True), targets.TargetFilter(overdue=False)]


@pytest.fixture
def listed(session, frozen):
    """Targets of a city and of a county below it, with ties in every key and some undated (长期); the city's
    office and the county's staff member."""
    f.organisation(session, "泉州市教育局")
    f.organisation(session, "南安市教育局", parent="泉州市教育局", kind="county")
    today = date(2024, 6, 1)
    states = ["assigned", "in_progress", "self_assessed"]
    for n in range(22):
        org = "泉州市教育局" if n % 4 else "南安市教育局"
        t = f.target_of(session, org, code=f"{n % 7}-{n}", weight=(n % 3) + 1,
                        sections=("财务科",) if n % 3 == 0 else ("规划科",),
                        text="学位扩容工程" if n % 2 else "教育经费专项督导")
        t.state = states[n % 3]
        t.state_due = None if n % 5 == 0 else today + timedelta(days=(n % 6) * 10 - 20)
    office = actor_of(session, f.member(session, "泉州市教育局", "市绩效办", ["office"]))
    county = actor_of(session, f.member(session, "南安市教育局", "南安科员", ["staff"], ["规划科"]))
    session.commit()
    return office, county


def _walk(session, filters, sort, actor, limit=4, where=()) -> list[int]:
    seen, after = [], ""
    while after is not None:
        page, after = targets.page_after(session=session, filters=filters, after=after, limit=limit, sort=sort,
                                         actor=actor, where=where)
        seen += [t.id for t in page]
    return seen


def _walk_back(session, filters, sort, actor, start: str, limit=4) -> list[int]:
    seen, before = [], start
    while before is not None:
        page, before = targets.page_before(session=session, filters=filters, before=before, limit=limit, sort=sort,
                                           actor=actor)
        seen = [t.id for t in page] + seen
    return seen


def _offset_pages(session, filters, sort, actor, limit=4) -> list[int]:
    found, total = targets.search(session=session, filters=filters, limit=limit, offset=0, sort=sort, actor=actor)
    seen = [t.id for t in found]
    while len(seen) < total:
        seen += [t.id for t in targets.search(session=session, filters=filters, limit=limit, offset=len(seen),
                                              sort=sort, actor=actor)[0]]
    return seen


@pytest.mark.parametrize("sort", SORTS)
def test_walking_by_keyset_finds_every_target_once_in_the_offset_order(session, listed, sort):
    office, county = listed
    for actor in (office, county):
        for filters in FILTERS:
            expected = _offset_pages(session, filters, sort, actor)
            walked = _walk(session, filters, sort, actor)
            assert walked == expected, (sort, filters, actor.name)
            assert len(set(walked)) == len(walked)
            if expected:  # and back from after the last: the same targets, the same order
                (last,) = [t for t in targets.search(session=session, filters=filters, limit=1,
                                                      offset=len(expected) - 1, sort=sort, actor=actor)[0]]
                before_last = _walk_back(session, filters, sort, actor, targets.cursor(last, sort))
                assert before_last == expected[:-1], (sort, filters, actor.name)
    everything = _walk(session, targets.TargetFilter(), sort, office)
    mine = _walk(session, targets.TargetFilter(), sort, county)
    assert len(everything) == 22 and len(mine) == 6 and set(mine) < set(everything)  # the county's only


def test_the_list_orders_by_due_date_undated_last_or_by_key_then_so(session, listed):
    office, _ = listed
    walked = [session.get(targets.Target, i) for i in _walk(session, targets.TargetFilter(), None, office)]
    dated = [t for t in walked if t.state_due is not None]
    assert walked[:len(dated)] == dated and all(t.state_due is None for t in walked[len(dated):])
    assert [(t.state_due, t.id) for t in dated] == sorted((t.state_due, t.id) for t in dated)
    heavy = [session.get(targets.Target, i) for i in _walk(session, targets.TargetFilter(), "weight", office)]
    assert [t.weight for t in heavy] == sorted((t.weight for t in heavy), reverse=True)


def test_a_home_list_pages_by_keyset_within_its_conditions(session, listed):
    office, _ = listed
    where = [targets.Target.weight >= 2]
    expected = targets.search(session=session, filters=targets.TargetFilter(), limit=100, offset=0, actor=office,
                              where=where)[0]
    assert _walk(session, targets.TargetFilter(), None, office, where=where) == [t.id for t in expected]


def _made(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("sort", "place"), [
    (None, "not-a-place"), (None, "%%%"), (None, "x" * 401), (None, _made(["due", None, "2024-13-40", 5])),
    (None, _made(["due", None, None, 0])), (None, _made(["due", None, None, True])),
    (None, _made(["due", None, None, 2 ** 40])), (None, _made(["due", "2", None, 5])),
    ("weight", _made(["weight", "NaN", None, 5])), ("weight", _made(["weight", "重", None, 5])),
    ("code", _made(["code", 7, None, 5])), (None, _made(["due", None, None])), (None, _made({"due": 1})),
    (None, _made(["somewhere", None, None, 5])),
])
def test_a_place_that_is_not_one_is_refused(session, listed, sort, place):
    office, _ = listed
    with pytest.raises(InvalidPayload, match="翻页位置无效"):
        targets.page_after(session=session, filters=targets.TargetFilter(), after=place, limit=2, sort=sort,
                           actor=office)
    with pytest.raises(InvalidPayload, match="翻页位置无效"):
        targets.page_before(session=session, filters=targets.TargetFilter(), before=place, limit=2, sort=sort,
                            actor=office)


def test_a_place_of_another_order_is_refused(session, listed):
    office, _ = listed
    first, _ = targets.search(session=session, filters=targets.TargetFilter(), limit=1, offset=0, actor=office)
    with pytest.raises(InvalidPayload, match="另一种排序"):
        targets.page_after(session=session, filters=targets.TargetFilter(), after=targets.cursor(first[0]), limit=2,
                           sort="code", actor=office)


@pytest.mark.parametrize("sort", SORTS)
def test_targets_added_or_changed_during_a_walk_do_not_break_it(session, listed, sort):
    office, _ = listed
    before = _offset_pages(session, targets.TargetFilter(), sort, office)
    seen, after, changed = [], "", None
    while after is not None:
        page, after = targets.page_after(session=session, filters=targets.TargetFilter(), after=after, limit=4,
                                         sort=sort, actor=office)
        seen += [t.id for t in page]
        if changed is None and len(seen) >= 8:  # halfway: one target added, one not yet seen moved to the front
            f.target_of(session, "泉州市教育局", code="0-0", weight=3)
            changed = session.get(targets.Target, before[-1])
            changed.state_due, changed.code, changed.weight = date(2000, 1, 1), "0-00", 3
            session.commit()
    assert len(seen) == len(set(seen))  # nothing twice
    untouched = [i for i in before if i != changed.id]
    assert [i for i in seen if i in untouched] == untouched  # every other target, in order
