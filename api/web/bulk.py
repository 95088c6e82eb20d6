"""Bulk pages: several targets verified, sent back, signed or scored from one page; the plan-wide score sheet."""
from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.deps import Id, SessionDep
from api.web.auth import WebViewer, checked_form
from api.web.pages import _page
from engine.plans import service as plans
from engine.scoring import entry
from engine.scoring import sheet as sheets
from engine.store.models import Target
from engine.workflow import bulk

router = APIRouter(include_in_schema=False)
TRIGGERS = {"verify", "send_back", "sign", "score"}
MAX_TARGETS = 500


def _int(text) -> int | None:
    return int(text) if isinstance(text, str) and re.fullmatch(r"[0-9]{1,9}", text) else None


@router.post("/bulk", response_class=HTMLResponse)
async def bulk_action(request: Request, session: SessionDep, viewer: WebViewer):
    form = await checked_form(request, viewer)
    return await run_in_threadpool(_bulk, request, session, viewer, form)


def _bulk(request, session, viewer, form):
    trigger = str(form.get("trigger", ""))
    ids = [i for i in (_int(v) for v in form.getlist("ids")[:MAX_TARGETS]) if i is not None]
    comment = str(form.get("comment", ""))[:4000]
    if trigger not in TRIGGERS or not ids:
        return _page(request, viewer, session, "bulk.html", status_code=422, outcomes=[], summary="",
                     error="请先勾选至少一个目标，再选择要执行的操作", back=_back(form))
    orders = [bulk.Order(i, trigger, comment=comment, expected_version=_int(form.get(f"v{i}"))) for i in ids]
    outcomes = bulk.fire_each(session=session, actor=viewer.actor, orders=orders)
    return _page(request, viewer, session, "bulk.html", outcomes=outcomes, summary=bulk.summary(outcomes),
                 back=_back(form))


def _back(form) -> str:
    back = str(form.get("back", "/"))
    return back if back.startswith("/") and not back.startswith("//") else "/"


@router.get("/plans/{plan_id}/scores", response_class=HTMLResponse)
def score_sheet(request: Request, session: SessionDep, viewer: WebViewer, plan_id: Id):
    return _sheet_page(request, session, viewer, plan_id)


def _sheet_page(request, session, viewer, plan_id: int, *, typed=None, problems=None, outcomes=None, status_code=200):
    found = sheets.sheet(session=session, plan_id=plan_id, actor=viewer.actor)
    return _page(request, viewer, session, "scores.html", status_code=status_code, s=found,
                 office="office" in viewer.actor.roles, typed=typed or {}, problems=problems or {},
                 outcomes=outcomes or [], summary=bulk.summary(outcomes) if outcomes else "")


@router.post("/plans/{plan_id}/scores", response_class=HTMLResponse)
async def enter_scores(request: Request, session: SessionDep, viewer: WebViewer, plan_id: Id):
    form = await checked_form(request, viewer)
    return await run_in_threadpool(_enter, request, session, viewer, plan_id, form)


def _enter(request, session, viewer, plan_id: int, form):
    plans.get(session=session, plan_id=plan_id, actor=viewer.actor)  # another organisation's plan: not found
    rows = []
    for key in list(form.keys())[:4 * MAX_TARGETS]:
        target_id = _int(key[1:]) if key.startswith("s") else None
        if target_id is None:
            continue
        row = entry.Row(target_id, _int(form.get(f"v{target_id}")), str(form.get(f"s{target_id}", ""))[:20],
                        str(form.get(f"p{target_id}", ""))[:20], str(form.get(f"r{target_id}", ""))[:2000])
        if not row.blank:
            rows.append(row)
    orders, problems, refused = [], {}, []
    for row in rows:
        target = session.get(Target, row.target_id)
        if target is None or target.plan_id != plan_id:
            continue
        order, reason = entry.order_for(target, row)
        if order is None:
            problems[row.target_id] = reason
            refused.append(bulk.Outcome(target.id, target.code, False, reason, error_code="invalid_payload"))
        else:
            orders.append(order)
    outcomes = refused + bulk.fire_each(session=session, actor=viewer.actor, orders=orders)
    for o in outcomes:
        if not o.ok:
            problems[o.target_id] = o.message
    typed = {r.target_id: r for r in rows if r.target_id in problems}  # what was refused stays as typed
    if not orders and not problems:
        problems[0] = "没有填写任何得分或扣分"
    return _sheet_page(request, session, viewer, plan_id, typed=typed, problems=problems, outcomes=outcomes,
                       status_code=422 if problems and not any(o.ok for o in outcomes) else 200)
