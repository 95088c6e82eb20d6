"""The staff and leader home lists past LIST_LIMIT: the first of them, how many in all, a link to them all."""
from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlparse

from sqlalchemy import func
from sqlmodel import Session, select

from engine.people.actors import actor_for
from engine.scoring import dashboard
from engine.store.models import Assignment, Target
from engine.workflow import targets
from tests.api.test_pages import login, web  # noqa: F401  (the page fixture)
from tests.engine.lifecycle import step

EXTRA = dashboard.LIST_LIMIT + 5
STAFF = "黄洺鋆"


def _more(engine_db, code: str = "1-2-1", *, state: str = "assigned") -> tuple[int, tuple[str, ...]]:
    """EXTRA targets like ``code`` (its sections, leaders and persons, its plan), brought to ``state``."""
    with Session(engine_db, expire_on_commit=False) as session:
        model = session.exec(select(Target).where(Target.code == code, Target.parent_id.is_(None))).one()
        parties = targets.parties_of(session, model.id)
        made = [targets.create(session=session, plan_id=model.plan_id, code=f"9-{n}", text=f"批量目标 {n}", weight=2,
                               sections=parties.sections, leaders=parties.leaders, persons=parties.persons).id
                for n in range(EXTRA)]
        session.commit()
        staff = actor_for(session, STAFF)
        for target_id in made:
            for trigger in {"assigned": [], "self_assessed": ["start", "self_assess"]}[state]:
                step(session, target_id, trigger, staff)
        return model.plan_id, parties.leaders


def _count(engine_db, kind: str, names, state: str) -> int:
    with Session(engine_db) as session:
        return session.exec(select(func.count()).select_from(Target).where(
            Target.workflow == "target", Target.state == state,
            Target.id.in_(select(Assignment.target_id).where(Assignment.kind == kind, Assignment.name.in_(names))))).one()


def _card(page: str, testid: str) -> str:
    return re.search(rf'data-testid="{testid}".*?</section>', page, re.S).group(0)


def _rows(card: str) -> list[str]:
    return re.findall(r'<tr[^>]*>\s*(?:<td>)?<a href="/targets/(\d+)"', card)


def test_staff_home_lists_the_first_of_a_long_queue_and_links_to_all_of_it(web, engine_db):
    client, _ = web
    _more(engine_db)
    with Session(engine_db) as session:
        sections = sorted(actor_for(session, STAFF).sections)
    total = _count(engine_db, "section", sections, "assigned")
    assert total > dashboard.LIST_LIMIT
    assert login(client, STAFF).status_code == 303
    home = client.get("/")
    assert home.status_code == 200
    card = _card(home.text, "to-start")
    assert f"待开始 <small>{total} 项</small>" in card and len(set(_rows(card))) == dashboard.LIST_LIMIT
    link = re.search(r'<a href="([^"]+)" data-testid="more-to-start">查看全部 (\d+) 项</a>', card)
    assert link and int(link.group(2)) == total
    assert f'data-testid="queue-to-start">待开始 <b>{total}</b>' in home.text  # the queue bar counts them all
    # The state counts are of every target of the sections, each a link to the list of that state.
    assert re.search(rf'<a href="[^"]*queue=section-targets[^"]*state=assigned[^"]*">已下达 <b>{total}</b></a>',
                     _card(home.text, "by-state"))

    listed = client.get(html.unescape(link.group(1)))
    assert listed.status_code == 200 and f"共 {total} 项" in listed.text and 'data-testid="queue-filter"' in listed.text
    assert len(set(re.findall(r'<a href="/targets/(\d+)"', listed.text))) == 50  # its first page
    last = client.get(html.unescape(link.group(1)) + f"&page={-(-total // 50)}")
    assert len(set(re.findall(r'<a href="/targets/(\d+)"', last.text))) == total - 50 * (-(-total // 50) - 1)


def test_staff_home_narrowed_counts_and_links_narrowed(web, engine_db):
    client, _ = web
    _more(engine_db)
    assert login(client, STAFF).status_code == 303
    home = client.get("/", params={"q": "批量目标"})
    card = _card(home.text, "to-start")
    assert f"待开始 <small>{EXTRA} 项</small>" in card and len(set(_rows(card))) == dashboard.LIST_LIMIT
    link = html.unescape(re.search(r'<a href="([^"]+)" data-testid="more-to-start">', card).group(1))
    assert parse_qs(urlparse(link).query)["q"] == ["批量目标"]
    assert f"共 {EXTRA} 项" in client.get(link).text
    # A code or words that match nothing: no list, no link.
    empty = client.get("/", params={"q": "没有这样的目标"})
    assert "待开始 <small>0 项</small>" in _card(empty.text, "to-start") and "查看全部" not in empty.text


def test_a_list_nobody_has_is_refused_as_a_filter(web, engine_db):
    client, _ = web
    assert login(client, STAFF).status_code == 303
    everything = client.get("/targets")
    # A leader's list asked for by a staff member (or a made-up one) narrows nothing.
    for queue in ("to-sign", "nonsense"):
        page = client.get("/targets", params={"queue": queue})
        assert page.status_code == 200 and 'data-testid="queue-filter"' not in page.text
        assert re.search(r"共 (\d+) 项", page.text).group(1) == re.search(r"共 (\d+) 项", everything.text).group(1)


def test_leader_home_lists_the_first_waiting_signatures_and_links_to_all_of_them(web, engine_db):
    client, _ = web
    _, leaders = _more(engine_db, state="self_assessed")
    leader = leaders[0]
    total = _count(engine_db, "leader", [leader], "self_assessed")
    assert total > dashboard.LIST_LIMIT
    assert login(client, leader).status_code == 303
    home = client.get("/")
    card = _card(home.text, "to-sign")
    assert f"待我审签 <small>{total} 项</small>" in card
    assert len(set(re.findall(r'name="ids" value="(\d+)"', card))) == dashboard.LIST_LIMIT
    link = re.search(r'<a href="([^"]+)" data-testid="more-to-sign">查看全部 (\d+) 项</a>', card)
    assert link and int(link.group(2)) == total
    listed = client.get(html.unescape(link.group(1)))
    assert f"共 {total} 项" in listed.text and "待我审签" in listed.text
    # 我分管目标的进展: the counts by state of them all, the first of them listed, a link to the rest.
    led = _card(home.text, "led")
    assert f"已自评 <b>{total}</b>" in led and len(set(_rows(led))) == dashboard.LIST_LIMIT
    assert 'data-testid="more-led"' in led
