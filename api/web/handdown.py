"""The target page's organisation work: the roll-up of a target handed down (汇总), handing it down (下达)
and the office's assignment of a target's sections and people."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import Id, SessionDep
from api.web.auth import WebViewer, checked_form
from engine.plans import assignment, handdown
from engine.plans.importer import split_names
from engine.scoring import rollup
from engine.store.errors import DomainError

router = APIRouter(include_in_schema=False)


def context(session, viewer, target) -> dict:
    """What the target page shows of its organisations: the roll-up, where it came from, what the viewer may do."""
    return {"rollup": rollup.of(session=session, target=target),
            "hand_down_to": handdown.offered(session, viewer.actor, target),
            "may_assign": assignment.may_assign(viewer.actor, target)}


def notice(query) -> str:
    """The sentence for a redirect back to the target page after handing down or assigning."""
    if query.get("done") == "hand_down":
        made = query.get("made", "")
        return f"已下达 {made} 个下级单位" if made.isdigit() and made != "0" else "各下级单位均已有该目标，未重复下达"
    return "已分配责任科室和人员" if query.get("done") == "assign" else ""


def _back(request, session, viewer, target_id: int, form, work) -> HTMLResponse:
    from api.web.pages import STATUS, _error, _target_page

    try:
        done = work()
    except DomainError as exc:
        session.rollback()
        try:
            return _target_page(request, session, viewer, target_id, status_code=STATUS.get(exc.code, 400),
                                error=exc.message, form={k: v for k, v in form.items() if isinstance(v, str)})
        except DomainError:
            return _error(request, session, viewer, exc)
    return RedirectResponse(f"/targets/{target_id}?{done}", status_code=303)


@router.post("/targets/{target_id}/handdown", response_class=HTMLResponse)
async def hand_down(request: Request, session: SessionDep, viewer: WebViewer, target_id: Id):
    form = await checked_form(request, viewer)
    to = [str(v)[:200] for v in form.getlist("to")][:200]

    def work() -> str:
        made = handdown.hand_down(session=session, target_id=target_id, actor=viewer.actor, to=to)
        return f"done=hand_down&made={len(made)}"

    return await run_in_threadpool(_back, request, session, viewer, target_id, form, work)


@router.post("/targets/{target_id}/assign", response_class=HTMLResponse)
async def assign(request: Request, session: SessionDep, viewer: WebViewer, target_id: Id):
    form = await checked_form(request, viewer)
    names = lambda key: split_names(str(form.get(key, ""))[:2000])[:50]  # noqa: E731

    def work() -> str:
        assignment.assign(session=session, target_id=target_id, actor=viewer.actor, sections=names("sections"),
                          leaders=names("leaders"), persons=names("persons"))
        return "done=assign"

    return await run_in_threadpool(_back, request, session, viewer, target_id, form, work)
