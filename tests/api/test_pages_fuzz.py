"""The page forms and filters under odd Unicode, huge numbers and dates at the ends of their ranges: never 500."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from itsdangerous import URLSafeTimedSerializer
from sqlmodel import Session, select

from engine.people.accounts import signing_key
from engine.store.models import Plan, Target, User

ODD = ["\u200b", "\u202e", "\ufeff", "\u0000", "\U0001f600", "绩效办", "'; DROP TABLE target; --", "<script>x</script>",
       "=HYPERLINK(\"x\")", "$\\undefinedmacro{x}$", "\u0301", "ﬁ", "\U000e0001", "\uffff", "%00", "../../etc/passwd"]
NUMBERS = ["1e308", "-1e308", "NaN", "Infinity", "-0", "0.005", "99999999999999999999999", "-1", "1" * 400, "0x10", "１２"]
DATES = ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2024-02-30",
         "1900-01-01", "2024-06-03T25:00", "9999-99-99"]
odd_text = st.one_of(st.sampled_from(ODD), st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
                     st.lists(st.sampled_from(ODD), max_size=4).map("".join))
value = st.one_of(odd_text, st.sampled_from(NUMBERS), st.sampled_from(DATES), st.integers().map(str))
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def pages(api, two_targets):
    """Cookies and CSRF tokens for the office and a staff member, as the login page would hand them out."""
    with Session(api.app.state.engine) as session:
        key = signing_key(session)
        ids = {name: uid for name, uid in session.exec(select(User.name, User.id)).all()}
        plan_id = session.exec(select(Plan.id)).first()
        target_ids = list(session.exec(select(Target.id)))
    viewers = {}
    for name in ("绩效办", "洪玮玮"):
        sid = f"fuzz-{ids[name]}"
        cookie = URLSafeTimedSerializer(key, salt="kaoping-web-session").dumps({"uid": ids[name], "sid": sid})
        csrf = hmac.new(key.encode(), f"csrf:{sid}".encode(), hashlib.sha256).hexdigest()[:40]
        viewers[name] = ({"kaoping_session": cookie}, csrf)
    cookies, csrf = viewers["洪玮玮"]
    started = api.post(f"/targets/{target_ids[0]}/fire", data={"csrf": csrf, "trigger": "start", "version": "1"},
                       cookies=cookies, follow_redirects=False)
    assert started.status_code == 303  # the cookies and tokens work: the fuzzing reaches the engine
    return api, viewers, plan_id, target_ids


def _ok(response) -> None:
    assert response.status_code < 500, (response.request.method, str(response.request.url)[:300], response.text[:300])


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["q", "state", "section", "leader", "overdue", "supervised", "sort",
                                               "page", "workflow"]), value, max_size=5))
def test_target_list_filters(pages, params):
    api, viewers, _, _ = pages
    _ok(api.get("/targets", params=params, cookies=viewers["洪玮玮"][0]))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["actor", "section", "trigger", "target", "since", "until", "page"]),
                              value, max_size=5))
def test_audit_filters_and_export(pages, params):
    api, viewers, _, _ = pages
    _ok(api.get("/audit", params=params, cookies=viewers["绩效办"][0]))
    _ok(api.get("/audit/export", params={**params, "format": "csv"}, cookies=viewers["绩效办"][0]))


@FUZZ
@given(trigger=st.sampled_from(["start", "report_progress", "self_assess", "score", "", "x" * 100]),
       fields=st.dictionaries(st.sampled_from(["note", "percent", "self_score", "summary", "comment", "version",
                                               "score", "indicator_1"]), value, max_size=6))
def test_target_forms(pages, trigger, fields):
    api, viewers, _, target_ids = pages
    cookies, csrf = viewers["洪玮玮"]
    form = {"csrf": csrf, "trigger": trigger, "version": "2", **fields}
    _ok(api.post(f"/targets/{target_ids[0]}/fire", data=form, cookies=cookies))


@FUZZ
@given(fields=st.dictionaries(st.sampled_from(["code", "text", "weight", "reason", "deadline", "sections", "leaders",
                                               "persons", "plan_id"]), value, max_size=9))
def test_new_target_form(pages, fields):
    api, viewers, plan_id, _ = pages
    cookies, csrf = viewers["绩效办"]
    _ok(api.post("/targets/new", data={"csrf": csrf, "plan_id": str(plan_id), **fields}, cookies=cookies))


@FUZZ
@given(username=odd_text, password=st.one_of(odd_text, st.sampled_from(NUMBERS)), next_url=value)
def test_login_form(pages, username, password, next_url):
    api, _, _, _ = pages
    _ok(api.post("/login", data={"username": username, "password": password, "csrf": "x", "next": next_url}))
