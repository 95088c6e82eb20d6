"""The target list by keyset over the API and on the page: ``after`` and ``next_after``, 下一页 and 上一页."""
from __future__ import annotations

import html
import re

from sqlmodel import Session

from api.web import pages
from tests import factories as f
from tests.api.conftest import token
from tests.api.test_pages import login, web  # noqa: F401  (the page fixture)


def _many(engine_db) -> None:
    with Session(engine_db, expire_on_commit=False) as session:
        for n in range(9):
            f.target(session, code=f"K-{n % 4}-{n}", weight=(n % 3) + 1, sections=("规划科",) if n % 2 else ("思政科",))


def _offset(api, headers, query: str) -> list[int]:
    return [t["id"] for t in api.get(f"/api/v1/targets?limit=100&{query}", headers=headers).json()["data"]]


def test_targets_api_pages_by_keyset(api, engine_db):
    _many(engine_db)
    office = token(api, "绩效办")
    for query in ("", "sort=weight", "sort=code", "sort=state", "section=规划科&sort=weight", "q=K-&sort=state"):
        first = api.get(f"/api/v1/targets?limit=2&{query}", headers=office).json()
        assert first["count"] == len(_offset(api, office, query)) and first["next_after"]
        seen, after = [], ""
        while after is not None:
            page = api.get(f"/api/v1/targets?limit=2&{query}&after={after}", headers=office).json()
            assert page["count"] is None
            seen += [t["id"] for t in page["data"]]
            after = page["next_after"]
        assert seen == _offset(api, office, query), query
        # The first page's next_after leads on from it, as a keyset page's does.
        rest = api.get(f"/api/v1/targets?limit=100&{query}&after={first['next_after']}", headers=office).json()
        assert [t["id"] for t in first["data"]] + [t["id"] for t in rest["data"]] == seen
        assert rest["next_after"] is None
    last = api.get("/api/v1/targets?limit=100", headers=office).json()
    assert last["next_after"] is None and last["count"] == len(last["data"])  # the offset answer, as before


def test_a_bad_place_is_422_with_a_reason(api, engine_db):
    _many(engine_db)
    office = token(api, "绩效办")
    bad = api.get("/api/v1/targets?after=not-a-place", headers=office)
    assert bad.status_code == 422 and "翻页位置无效" in bad.json()["detail"]
    place = api.get("/api/v1/targets?limit=2", headers=office).json()["next_after"]
    other = api.get(f"/api/v1/targets?sort=code&after={place}", headers=office)
    assert other.status_code == 422 and "另一种排序" in other.json()["detail"]
    assert api.get("/api/v1/targets?sort=size", headers=office).status_code == 422


def _listed(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/targets/(\d+)">', text)]


def test_target_page_follows_next_and_previous(web, monkeypatch):
    client, _ = web
    monkeypatch.setattr(pages, "PAGE", 4)
    assert login(client, "绩效办").status_code == 303
    for query in ("sort=due", "sort=weight", "sort=code&overdue=true"):
        everything = []
        offset = client.get(f"/targets?{query}")
        count = int(re.search(r"共 (\d+) 项", offset.text).group(1))
        page = offset
        while True:
            everything += _listed(page.text)
            found = re.search(r'href="([^"]+)" data-testid="next"', page.text)
            if not found:
                break
            page = client.get(html.unescape(found.group(1)))
            assert page.status_code == 200 and "共 " not in page.text
        assert len(everything) == count == len(set(everything)) and count > 4, query
        assert everything[:4] == _listed(offset.text)
        numbered = [i for n in range(1, -(-count // 4) + 1) for i in _listed(client.get(f"/targets?{query}&page={n}").text)]
        assert numbered == everything, query  # the numbered pages by offset list the same, in the same order
        back = re.search(r'href="([^"]+)" data-testid="previous"', page.text)
        before = client.get(html.unescape(back.group(1)))
        shown = -(-count // 4) - 1
        assert _listed(before.text) == everything[(shown - 1) * 4:shown * 4] and f"第 {shown} 页" in before.text


def test_a_bad_place_on_the_page_is_422(web):
    client, _ = web
    assert login(client, "绩效办").status_code == 303
    bad = client.get("/targets?after=%E7%A7%91")
    assert bad.status_code == 422 and "翻页位置无效" in bad.text
