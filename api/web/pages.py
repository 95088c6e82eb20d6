"""Pages for every role: home, targets, one target with its forms, evidence files, the inbox."""
from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from starlette.datastructures import UploadFile

from api.deps import MAX_ID, Id, SessionDep, get_writer
from api.web.auth import WebViewer, check_csrf, checked_form
from api.web import handdown
from api.web.diagram import svg
from api.web.render import render
from engine.audit import chain as audit
from engine.workflow import definitions, deployments, evidence, payloads, rules, targets
from engine.schedule import holidays
from engine.scoring import dashboard
from engine.people import inbox
from engine.plans import service
from engine.people.actors import may_see_evidence
from engine.store import db, isolation
from engine.store.config import settings
from engine.store.errors import DomainError, InvalidPayload, LimitExceeded, StaleVersion

router = APIRouter(include_in_schema=False)
PAGE = 50
SORTS = {"due": None, "code": "code", "state": "state", "weight": "weight"}
STATUS = {"not_found": 404, "role_forbidden": 403, "out_of_scope": 403, "separation_of_duties": 403, "forbidden": 403,
          "other_organisation": 403, "invalid_trigger": 409,
          "stale_version": 409, "duplicate": 409, "invalid_payload": 422, "guard_failed": 422,
          "evidence_tampered": 409}


def _page(request, viewer, session, name: str, **context):
    return render(request, name, viewer=viewer, unread=dashboard.unread(session, viewer.user.id), **context)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, viewer: WebViewer,
         q: Annotated[str, Query(max_length=200)] = "", section: Annotated[str, Query(max_length=100)] = "",
         code: Annotated[str, Query(max_length=120)] = ""):
    roles = viewer.actor.roles
    if "auditor" in roles and not roles & {"staff", "leader", "office"}:
        return RedirectResponse("/audit", status_code=303)
    if roles == {"admin"}:
        return RedirectResponse("/admin/users", status_code=303)
    parts = {}
    if "office" in roles:
        parts["office"] = dashboard.office_home(session, viewer.actor)
        parts["office"]["queues"] = dashboard.narrow(parts["office"]["queues"], q=q, section=section)
    if "leader" in roles:  # narrowed in SQL, as the target list the lists link to
        parts["leader"] = dashboard.leader_home(session, viewer.actor, q=q, section=section)
    if "staff" in roles:
        parts["staff"] = dashboard.staff_home(session, viewer.actor, q=q, section=section)
    messages, _, _ = inbox.items(session=session, user_id=viewer.user.id, unread_only=True, limit=5)
    done = request.query_params.get("done", "")
    notice = f"已{done} {code}".strip() if done else ""
    if done and "leader" in parts:
        notice += f"；待我审签还剩 {parts['leader']['queues'][0].count} 项"
    warnings = holidays.warnings(session=session) if "office" in roles else []  # years the calendar does not know
    return _page(request, viewer, session, "home.html", parts=parts, messages=messages, notice=notice,
                 narrowed={"q": q, "section": section}, section_names=targets.section_names(session, viewer.actor),
                 warnings=warnings)


@router.get("/targets", response_class=HTMLResponse)
def target_list(request: Request, session: SessionDep, viewer: WebViewer,
                state: Annotated[str | None, Query(max_length=60)] = None,
                section: Annotated[str | None, Query(max_length=100)] = None,
                leader: Annotated[str | None, Query(max_length=100)] = None,
                overdue: bool | None = None, supervised: bool | None = None,
                q: Annotated[str | None, Query(max_length=200)] = None,
                workflow: Annotated[str | None, Query(max_length=60)] = "target",
                queue: Annotated[str | None, Query(max_length=40)] = None,
                sort: Annotated[str, Query(pattern="^(due|code|state|weight)$")] = "due",
                page: Annotated[int, Query(ge=1, le=MAX_ID // PAGE)] = 1,
                after: Annotated[str | None, Query(max_length=400)] = None,
                before: Annotated[str | None, Query(max_length=400)] = None):
    """The first page with the count; the next and the previous by keyset (after or before the place of a
    row, 往后逐页): the same cost at any depth, no count. ``page`` alone still pages by offset."""
    if workflow and workflow not in definitions.shipped():
        workflow = "target"
    # One of the viewer's home lists in all (查看全部): the same conditions as the home page's.
    where = dashboard.queue_conditions(session, viewer.actor, queue) if queue else None
    queued = dashboard.QUEUES[queue] if where is not None else None
    filters = targets.TargetFilter(workflow=workflow or None, state=state or None, section=section or None,
                                   leader=leader or None, overdue=overdue or None, supervised=supervised or None,
                                   q=q or None)
    listed = {"session": session, "filters": filters, "limit": PAGE, "sort": SORTS[sort], "actor": viewer.actor,
              "where": where or ()}
    count = None
    try:
        if before is not None:
            found, previous = targets.page_before(before=before, **listed)
            next_after = targets.cursor(found[-1], SORTS[sort]) if found else None
        elif after is not None:
            found, next_after = targets.page_after(after=after, **listed)
            previous = targets.cursor(found[0], SORTS[sort]) if found and after else None
        else:
            found, count = targets.search(offset=(page - 1) * PAGE, **listed)
            next_after = targets.place_after(found, (page - 1) * PAGE, count, SORTS[sort])
            previous = targets.cursor(found[0], SORTS[sort]) if found and page > 1 else None
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    query = {k: v for k, v in request.query_params.items() if k not in ("page", "after", "before")}
    return _page(request, viewer, session, "targets.html", items=dashboard.items(session, found, viewer.actor),
                 count=count, page=page, pages=max(1, -(-count // PAGE)) if count is not None else None,
                 next_after=next_after, previous=previous, filters=filters, sort=sort, queue=queued,
                 query="&".join(f"{k}={quote(v)}" for k, v in query.items()),
                 states=list(definitions.get(workflow or "target").states.values()),
                 sections=targets.section_names(session, viewer.actor),
                 leaders=targets.leader_names(session, viewer.actor))


def _target_page(request, session, viewer, target_id: int, *, status_code: int = 200, error: str = "", form=None,
                 problems=None):
    target = targets.get(session=session, target_id=target_id, actor=viewer.actor)
    definition = deployments.resolve(session, target.workflow, target.workflow_version)
    item = dashboard.items(session, [target], viewer.actor)[0]
    history = audit.history(session=session, target_id=target.id)
    # Right after the office adds a target, what it was warned about (kept in the creation record).
    warnings = [w for r in history if r.kind == "creation" for w in r.payload.get("warnings", [])] \
        if request.query_params.get("done") == "create" else []
    done = request.query_params.get("done", "")
    label = next((t.label for t in definition.transitions if t.trigger == done), "")
    notice = f"已{label}，{dashboard.next_step(item)}" if label else ""  # 已提交自评，等待李自坚、庄映峰审签
    notice = notice or handdown.notice(request.query_params)
    if form is None and any(a.spec.trigger == "self_assess" for a in item.actions):
        form = dashboard.rework_form(session, target.id)  # after a return: the last submission, to amend
    return render(request, "target.html", status_code=status_code, viewer=viewer, notice=notice,
                  unread=dashboard.unread(session, viewer.user.id), error=error, item=item, t=target,
                  definition=definition, diagram=svg(definition, current=target.state), warnings=warnings,
                  history=history, progress_points=dashboard.progress_over_time(history), follow=dashboard.follow_ups(session, target, viewer.actor),
                  files={e.id: e for e in evidence.of_target(session, target.id)}
                  if may_see_evidence(viewer.actor, item.parties) else {},
                  indicators=service.indicator_status(session, target),
                  signatures=targets.signatures(session, target.id), form=form or {}, problems=problems or {},
                  field_labels={t.trigger: {f.name: f.label or f.name for f in t.fields} for t in definition.transitions},
                  **handdown.context(session, viewer, target))


@router.get("/targets/{target_id}", response_class=HTMLResponse)
def target_page(request: Request, session: SessionDep, viewer: WebViewer, target_id: Id):
    try:
        return _target_page(request, session, viewer, target_id)
    except DomainError as exc:
        return _error(request, session, viewer, exc)


@router.post("/targets/{target_id}/fire", response_class=HTMLResponse)
async def fire(request: Request, session: SessionDep, viewer: WebViewer, target_id: Id):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    uploads = [evidence.Upload(f.filename or "", await f.read(evidence.read_limit()))
               for f in form.getlist("evidence") if isinstance(f, UploadFile) and f.filename]
    refused: list[str] = []
    if uploads:  # looked into in a limited child process: a hostile file freezes nothing
        try:
            refused = await run_in_threadpool(isolation.run, evidence.inspect, uploads)
        except LimitExceeded as exc:
            refused = [exc.message]
    # The engine blocks (locks, the database): off the event loop, so other requests go on meanwhile.
    return await run_in_threadpool(_fire, request, session, viewer, target_id, form, uploads, refused)


def _kept_evidence(form) -> tuple[list[int], list[int]]:
    """The files a form listed as attached before: those left ticked (kept) and those unticked (removed)."""
    listed = [int(v) for v in form.getlist("evidence_listed") if isinstance(v, str) and v.isdigit()]
    ticked = {int(v) for v in form.getlist("keep") if isinstance(v, str) and v.isdigit()}
    return [i for i in listed if i in ticked], [i for i in listed if i not in ticked]


def _fire(request, session, viewer, target_id: int, form, uploads, refused=()):
    trigger = str(form.get("trigger", ""))[:60]
    try:
        if refused:
            raise InvalidPayload("；".join(refused))
        target = targets.get(session=session, target_id=target_id, actor=viewer.actor)
        spec = deployments.resolve(session, target.workflow, target.workflow_version).transition(target.state, trigger)
        names = [i["name"] for i in service.indicator_status(session, target)]
        payload = payloads.from_form(spec, dict(form), names) if spec else {}
        kept, removed = _kept_evidence(form)
        if kept:
            payload["evidence"] = kept
        version = str(form.get("version", ""))
        if not re.fullmatch(r"[0-9]{1,9}", version):  # every form carries the version it was drawn at
            raise StaleVersion("页面已过期，请刷新后重试")
        db.end_read(session)  # through the group writer: the page drawn next reads after its commit
        fired = get_writer(request).fire(target_id=target_id, trigger=trigger, actor=viewer.actor, payload=payload,
                                         comment=str(form.get("comment", "")), expected_version=int(version),
                                         uploads=uploads, remove_evidence=removed)
    except DomainError as exc:
        session.rollback()
        try:
            return _target_page(request, session, viewer, target_id, status_code=STATUS.get(exc.code, 400),
                                error=exc.message, form={k: v for k, v in form.items() if isinstance(v, str)},
                                problems=rules.field_errors(exc.details, exc.message))
        except DomainError:
            return _error(request, session, viewer, exc)
    label = fired.record.trigger
    if form.get("back") == "/":  # acted from a home queue: back to it, with what is left
        return RedirectResponse(f"/?done={quote(spec.label)}&code={quote(fired.target.code)}", status_code=303)
    return RedirectResponse(f"/targets/{target_id}?done={quote(label)}", status_code=303)


@router.get("/evidence/{evidence_id}")
def download(request: Request, session: SessionDep, viewer: WebViewer, evidence_id: Id):
    try:
        row, path = evidence.fetch(session=session, evidence_id=evidence_id, actor=viewer.actor)
    except DomainError as exc:
        return _error(request, session, viewer, exc)
    return FileResponse(path, media_type=row.content_type, filename=row.filename,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, session: SessionDep, viewer: WebViewer,
               page: Annotated[int, Query(ge=1, le=MAX_ID // PAGE)] = 1, unread_only: bool = False,
               open_only: bool = False, q: Annotated[str, Query(max_length=100)] = ""):
    found, count, unread = inbox.items(session=session, user_id=viewer.user.id, limit=PAGE, offset=(page - 1) * PAGE,
                                       unread_only=unread_only, words=q, open_only=open_only)
    flags = f"unread_only={'true' if unread_only else 'false'}&open_only={'true' if open_only else 'false'}"
    return render(request, "inbox.html", viewer=viewer, unread=unread, messages=found, count=count, page=page,
                  pages=max(1, -(-count // PAGE)), unread_only=unread_only, open_only=open_only, q=q,
                  digest_time=settings().digest_time,
                  daily=inbox.takes_digest(session=session, user_id=viewer.user.id),
                  notice=request.query_params.get("done", ""), query=f"{flags}&q={quote(q)}")


@router.post("/inbox/digest")
async def digest_choice(request: Request, session: SessionDep, viewer: WebViewer):
    form = await checked_form(request, viewer)
    daily = form.get("daily") == "true"
    await run_in_threadpool(inbox.set_digest, session=session, user_id=viewer.user.id, daily=daily)
    said = "今后每天汇总一封邮件" if daily else "今后每条消息一封邮件"
    return RedirectResponse(f"/inbox?done={quote(said)}", status_code=303)


@router.post("/inbox/read-all")
async def read_all(request: Request, session: SessionDep, viewer: WebViewer):
    await checked_form(request, viewer)
    done = await run_in_threadpool(inbox.mark_all_read, session=session, user_id=viewer.user.id)
    return RedirectResponse(f"/inbox?done={quote(f'已将 {done} 条消息标为已读')}", status_code=303)


@router.post("/inbox/{item_id}/read")
async def read(request: Request, session: SessionDep, viewer: WebViewer, item_id: Id):
    form = await request.form()
    check_csrf(viewer, form.get("csrf"))
    item = await run_in_threadpool(inbox.mark_read, session=session, user_id=viewer.user.id, item_id=item_id)
    return RedirectResponse(f"/targets/{item.target_id}" if item.target_id and form.get("open") else "/inbox",
                            status_code=303)


def _error(request, session, viewer, exc: DomainError):
    return render(request, "error.html", status_code=STATUS.get(exc.code, 400), viewer=viewer,
                  unread=dashboard.unread(session, viewer.user.id), message=exc.message)
