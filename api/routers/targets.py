"""Targets: lists, one target with what the caller may do now, transitions through the one door, history."""
from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.exc import UnboundExecutionError
from sqlmodel import Session

from api.deps import CurrentActor, Id, IdQuery, KeptActor, Limit, Offset, SessionDep, get_writer
from api.problems import responses
from api.schemas.audit import RecordsPublic, record_public
from api.schemas.targets import (
    AssignmentIn,
    HandDownIn,
    IndicatorPublic,
    SignaturePublic,
    TargetPublic,
    TargetsPublic,
    TargetSummary,
    TransitionIn,
    action_public,
    rollup_public,
    summary,
)
from engine.audit import chain
from engine.calendar import clock
from engine.people.actors import Actor
from engine.plans import assignment, handdown, service
from engine.scoring import rollup
from engine.store import db
from engine.store.models import Target
from engine.workflow import commands, evidence, targets

router = APIRouter(prefix="/targets", tags=["targets"])


def _detail(session, target: Target, actor: Actor, parties=None, *, signatures=None, indicators: bool = True,
            children: bool = True, facts=None) -> TargetPublic:
    """The target as one reads it. What the caller knows already is not read again: ``parties``,
    ``signatures`` ((signer, signed_at) pairs), that it has no ``indicators`` or no ``children`` (no
    roll-up), what the guards read about its children (``facts``)."""
    parties = parties or targets.parties_of(session, target.id)
    if signatures is None:
        signatures = [(s.signer, s.signed_at) for s in targets.signatures(session, target.id)]
    return TargetPublic(
        **summary(target, parties), indicator=target.indicator,
        indicator_points=float(target.indicator_points) if target.indicator_points is not None else None,
        basis=target.basis, extra_columns=target.extra_columns or {}, checkpoints=target.checkpoints or [],
        self_score=float(target.self_score) if target.self_score is not None else None,
        score=float(target.score) if target.score is not None else None,
        signatures=[SignaturePublic(signer=signer, signed_at=clock.local(at)) for signer, at in signatures],
        indicators=[IndicatorPublic(**{k: v for k, v in i.items() if k != "reported_at"})
                    for i in service.indicator_status(session, target)] if indicators else [],
        available_triggers=[action_public(a) for a in commands.available(
            session=session, target=target, actor=actor, parties=parties,
            signers=[signer for signer, _ in signatures], facts=facts)],
        parent_id=target.parent_id, rollup=rollup_public(rollup.of(session=session, target=target)) if children else None,
    )


@router.get("", response_model=TargetsPublic, responses=responses())
def list_targets(
    session: SessionDep, actor: CurrentActor,
    plan: IdQuery = None, workflow: Annotated[str | None, Query(max_length=60)] = None,
    state: Annotated[str | None, Query(max_length=60)] = None,
    section: Annotated[str | None, Query(max_length=100)] = None,
    leader: Annotated[str | None, Query(max_length=100)] = None,
    overdue: bool | None = None, supervised: bool | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: Literal["due", "code", "state", "weight"] = "due",
    limit: Limit = 50, offset: Offset = 0, after: Annotated[str | None, Query(max_length=400)] = None,
) -> TargetsPublic:
    """Targets, filtered, by the due date of their current state (undated last), or by ``sort`` and then so.

    With ``after`` (a ``next_after`` of an earlier page; empty for the start): keyset paging, the targets
    after that place and ``next_after`` for the next page, at the same cost at any depth and without a count."""
    filters = targets.TargetFilter(plan_id=plan, workflow=workflow, state=state, section=section, leader=leader, overdue=overdue,
                                   supervised=supervised, q=q)
    order = None if sort == "due" else sort
    if after is not None:
        page, next_after = targets.page_after(session=session, filters=filters, after=after, limit=limit, sort=order,
                                              actor=actor)
        count = None
    else:
        page, count = targets.search(session=session, filters=filters, limit=limit, offset=offset, sort=order, actor=actor)
        next_after = targets.place_after(page, offset, count, order)
    parties = targets.parties_for(session, [t.id for t in page])
    return TargetsPublic(data=[TargetSummary(**summary(t, parties[t.id])) for t in page], count=count,
                         next_after=next_after)


@router.get("/{target_id}", response_model=TargetPublic, responses=responses(404))
def get_target(target_id: Id, session: SessionDep, actor: CurrentActor, response: Response) -> TargetPublic:
    """One target: the plan row, its state and version (also as the ETag), signatures, and the triggers the caller may fire now."""
    target = targets.get(session=session, target_id=target_id, actor=actor)
    response.headers["ETag"] = f'"{target.version}"'
    return _detail(session, target, actor)


IF_MATCH = r'^\s*(W/)?"?[0-9]{1,9}"?\s*$'


@router.post("/{target_id}/transitions", response_model=TargetPublic, responses=responses(403, 404, 409))
async def transition(target_id: Id, body: TransitionIn, request: Request, actor: KeptActor,
                     response: Response,
                     if_match: Annotated[str, Header(pattern=IF_MATCH, description="目标的版本号：GET 返回的 ETag")]) -> TargetPublic:
    """Fire a trigger on the target (the engine's one door), at the version given in If-Match.

    Handed to the group writer: transitions arriving together share one commit (each all or nothing)."""
    version = int(if_match.strip().removeprefix("W/").strip('"'))
    # Awaited on the event loop: no thread waits for the writer. A caller kept by the process reads nothing first.
    fired = await asyncio.wrap_future(get_writer(request).submit(
        target_id=target_id, trigger=body.trigger, actor=actor, payload=body.payload, comment=body.comment,
        expected_version=version, override_separation=body.override_separation, remove_evidence=body.remove_evidence))
    detail = _known_detail(fired, actor)
    if detail is None:
        detail = await run_in_threadpool(_fired_detail, request.app.state.engine, fired, actor)
    response.headers["ETag"] = f'"{detail.version}"'
    return detail


def _known_detail(fired: commands.Fired, actor: Actor) -> TargetPublic | None:
    """The response from what the transition read alone, on the event loop; ``None`` if it needs a read (a session
    without a database refuses any statement before it is sent)."""
    try:
        with Session() as session:
            return _fired_detail_in(session, fired, actor)
    except UnboundExecutionError:
        return None


def _fired_detail(engine, fired: commands.Fired, actor: Actor) -> TargetPublic:
    """The response from what the transition read; what it did not (indicators, a roll-up) is read now, outside
    the writer, in a session of the request's own."""
    with Session(engine, expire_on_commit=False) as session:
        detail = _fired_detail_in(session, fired, actor)
        db.end_read(session)
    return detail


def _fired_detail_in(session: Session, fired: commands.Fired, actor: Actor) -> TargetPublic:
    return _detail(session, fired.target, actor, fired.parties, signatures=fired.signatures,
                   indicators=fired.indicators is not False, children=fired.children is not False, facts=fired.facts)


@router.post("/{target_id}/handdown", response_model=TargetsPublic, responses=responses(403, 404))
def hand_down(target_id: Id, body: HandDownIn, session: SessionDep, actor: CurrentActor) -> TargetsPublic:
    """The office hands the target down (下达) to child organisations: those named in ``to``, or else those its
    responsible units name. Answers the child targets created (none when each exists already)."""
    made = handdown.hand_down(session=session, target_id=target_id, actor=actor, to=body.to)
    parties = targets.parties_for(session, [t.id for t in made])
    return TargetsPublic(data=[TargetSummary(**summary(t, parties[t.id])) for t in made], count=len(made))


@router.put("/{target_id}/assignment", response_model=TargetPublic, responses=responses(403, 404))
def assign(target_id: Id, body: AssignmentIn, session: SessionDep, actor: CurrentActor, response: Response) -> TargetPublic:
    """The office of the target's organisation sets its sections (lead first), leaders and responsible persons."""
    target = assignment.assign(session=session, target_id=target_id, actor=actor, sections=body.sections,
                               leaders=body.leaders, persons=body.persons)
    response.headers["ETag"] = f'"{target.version}"'
    return _detail(session, target, actor)


@router.get("/{target_id}/history", response_model=RecordsPublic, responses=responses(404))
def history(target_id: Id, session: SessionDep, actor: CurrentActor) -> RecordsPublic:
    """The target's transition records, oldest first."""
    targets.get(session=session, target_id=target_id, actor=actor)
    records = chain.history(session=session, target_id=target_id)
    return RecordsPublic(data=[record_public(r) for r in records], count=len(records))


@router.get("/{target_id}/evidence/{evidence_id}", response_class=FileResponse, responses={
    **responses(403, 404), 200: {"content": {"application/octet-stream": {}}}})
def evidence_file(target_id: Id, evidence_id: Id, session: SessionDep, actor: CurrentActor) -> FileResponse:
    """An evidence file of the target: for its sections' staff, its leaders, the office and the auditor."""
    row, path = evidence.fetch(session=session, evidence_id=evidence_id, actor=actor, target_id=target_id)
    return FileResponse(path, media_type=row.content_type, filename=row.filename,
                        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})
