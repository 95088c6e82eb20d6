"""A refused action shows its reason beside the field it concerns, with what was typed kept."""
from __future__ import annotations

from sqlmodel import Session

from tests import factories as f
from tests.api.test_evidence_rights import _csrf_and_version, _login
from tests.engine.lifecycle import step


def _post(api, target_id, **fields):
    page = api.get(f"/targets/{target_id}").text
    csrf, version = _csrf_and_version(page, fields["trigger"])
    return api.post(f"/targets/{target_id}/fire", data={"csrf": csrf, "version": version, **fields})


def _error_of(page: str, field: str) -> str:
    start = page.index(f'data-testid="field-error-{field}"')
    return page[page.index(">", start) + 1:page.index("</small>", start)]


def test_a_self_score_above_the_weight_is_refused_beside_the_field_with_the_input_kept(api, two_targets, engine_db):
    mine = two_targets[0]  # weight 2
    with Session(engine_db) as session:
        step(session, mine, "start", f.STAFF)
    _login(api, "洪玮玮")
    refused = _post(api, mine, trigger="self_assess", self_score="120", summary="全年完成，材料齐全",
                    comment="请审签")
    assert refused.status_code == 422
    page = refused.text
    assert _error_of(page, "self_score") == "自评分应在 0 到权重分值 2 之间（满分 2 分），实际为 120"
    form = page[page.index('data-trigger="self_assess"'):]
    form = form[:form.index("</form>")]
    assert 'value="120"' in form and "全年完成，材料齐全</textarea>" in form and "请审签</textarea>" in form
    assert 'id="err-self_assess-self_score"' in form  # inside the form that was posted
    assert 'data-testid="field-error-summary"' not in page


def test_a_missing_comment_is_shown_beside_the_comment(api, two_targets, engine_db):
    mine = two_targets[0]
    with Session(engine_db) as session:
        step(session, mine, "start", f.STAFF)
        step(session, mine, "self_assess", f.STAFF)
    _login(api, "林长华")
    page = _post(api, mine, trigger="return", comment="").text
    assert "必须填写意见" in _error_of(page, "comment")
