"""Every page in Chromium at 1366 px and 375 px: axe-core finds nothing serious or critical, and no page (nor the
API docs) asks for anything but the server itself."""
from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from engine.store.db import make_engine
from engine.store.models import Target, User
from engine.workflow import targets
from tests.api.browsing import log_in
from tests.api.plan_states import bring
from tests.api.test_pages_e2e import ARTIFACTS, pytestmark, site  # noqa: F401  (fixtures)

WIDTHS = (1366, 375)
OUTSIDE: list[str] = []


def _pages(ids, admin_id, place):
    """(who, path) for every page a person can reach (``place``: of a target in the list by code)."""
    office = ["/", "/targets", "/targets?overdue=true&sort=code", f"/targets?sort=code&page=2&after={place}", f"/targets/{ids['1-4-1']}", f"/targets/{ids['1-2-1']}",
              "/workflows", "/workflows/target", "/inbox", "/audit", "/audit?check=true", "/plans/1/scores",
              "/plans/1/report", "/account/password", "/targets/999999"]
    return ([(None, "/login")] + [("绩效办", p) for p in office] + [("林长华", "/"), ("林长华", f"/targets/{ids['1-1-1']}")]
            + [("洪玮玮", "/"), ("洪玮玮", f"/targets/{ids['1-1-2']}"), ("审计员", "/audit")]
            + [("管理员", "/admin/users"), ("管理员", f"/admin/users/{admin_id}"), ("管理员", "/admin/sections")])


@pytest.fixture(scope="module")
def prepared(site):
    base, ids, folder = site
    bind = make_engine(f"sqlite:///{folder / 'site.db'}")
    with Session(bind) as session:
        bring(session, ["1-1-1"], "self_assessed")
        bring(session, ["1-1-2"], "in_progress")
        bring(session, ["1-2-1"], "leader_signed")
        bring(session, ["1-4-1"], "verified")
        admin_id = session.exec(select(User).where(User.login == "洪玮玮")).one().id
        place = targets.cursor(session.get(Target, ids["1-1-1"]), "code")  # a page by keyset: 第一页, 上一页
    bind.dispose()
    return base, ids, admin_id, place


def _context(browser, base, who, width):
    return log_in(browser, base, who, width=width, outside=OUTSIDE)


@pytest.mark.parametrize("width", WIDTHS)
def test_axe_finds_nothing_serious_on_any_page(prepared, browser, width):
    from axe_playwright_python.sync_playwright import Axe

    base, ids, admin_id, place = prepared
    axe, contexts, problems, moderate = Axe(), {}, [], 0
    try:
        for who, path in _pages(ids, admin_id, place):
            if who not in contexts:
                contexts[who] = _context(browser, base, who, width)
            page = contexts[who][1]
            page.goto(f"{base}{path}")
            assert page.locator("h1").count() == 1, f"{path} as {who}: one <h1> per page"
            assert page.locator("main").count() == 1, f"{path} as {who}: a <main> landmark"
            found = axe.run(page).response["violations"]
            for v in found:
                if v["impact"] in ("serious", "critical"):
                    problems.append(f"{who} {path} @{width}: {v['id']} ({v['impact']}) "
                                    + "; ".join(n["target"][0] if n["target"] else "" for n in v["nodes"][:3]))
                elif v["impact"] == "moderate":
                    moderate += len(v["nodes"])
            if width == 375:
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= 376, f"{path} as {who} is {scroll}px wide on a 375px screen"
    finally:
        for context, _ in contexts.values():
            context.close()
    print(f"\naxe at {width}px: {len(_pages(ids, admin_id, place))} pages, {moderate} moderate findings")
    assert not problems, "\n".join(problems)
    assert not OUTSIDE, OUTSIDE


def test_no_page_nor_the_docs_asks_for_anything_but_the_server(prepared, browser):
    base, ids, admin_id, place = prepared
    context, page = _context(browser, base, None, 1366)
    page.goto(f"{base}/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "kaoping" in page.locator(".swagger-ui .info .title").inner_text()
    page.screenshot(path=str(ARTIFACTS / "docs.png"))
    page.goto(f"{base}/redoc")
    page.locator("redoc h1, [role=main] h1, .api-info h1").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "redoc.png"))
    context.close()
    seen = []
    for width in WIDTHS:
        contexts = {}
        for who, path in _pages(ids, admin_id, place):
            if who not in contexts:
                contexts[who] = _context(browser, base, who, width)
            contexts[who][1].goto(f"{base}{path}")
            seen.append(path)
        for c, _ in contexts.values():
            c.close()
    assert seen and not OUTSIDE, OUTSIDE
    assert not [u for u in OUTSIDE if not re.match(re.escape(base), u)]


def test_on_a_phone_the_actions_are_on_the_first_screen_and_lists_are_cards(prepared, browser):
    base, ids, _, _ = prepared
    context, page = log_in(browser, base, "绩效办", width=375)
    page.goto(f"{base}/targets/{ids['1-2-1']}")  # leader-signed: the office may verify or send back
    bar = page.locator("nav.mobile-actions")
    assert bar.is_visible()
    box = bar.bounding_box()
    assert box["y"] + box["height"] <= 900 and "核验" in bar.inner_text()
    bar.locator("a").first.click()
    assert page.locator("#actions").is_visible()
    page.goto(f"{base}/targets")
    row = page.locator("table.targets tbody tr").first
    assert page.evaluate("getComputedStyle(document.querySelector('table.targets tbody tr')).display") == "block"
    assert row.bounding_box()["width"] <= 375
    page.screenshot(path=str(ARTIFACTS / "phone-targets-cards.png"), full_page=False)
    context.close()
