"""The audit log: search, export, verify (office and auditor only)."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from api.deps import MAX_ID, CurrentActor, IdQuery, Limit, Offset, SessionDep, require
from api.problems import responses
from api.schemas.audit import AuditKeyPublic, ChainCheckPublic, RecordsPublic, record_public
from engine.audit import chain as audit, checkpoints, replay
from engine.calendar import clock
from engine.people import scope
from engine.workflow import definitions

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[require("office", "auditor")])


EARLIEST = datetime(1900, 1, 1, tzinfo=clock.ZONE)  # long before any record: a bound below it changes nothing


def _moment(value: datetime | None) -> datetime | None:
    """A filter time: naive means local; one before 1900 is taken as 1900 (no record is older)."""
    if value is None:
        return None
    if value.year < 1900:
        return EARLIEST
    return value if value.tzinfo else value.replace(tzinfo=clock.ZONE)


def _filters(actor, section, trigger, target, since, until, *, within=None) -> audit.AuditFilter:
    aware = _moment
    return audit.AuditFilter(actor=actor, section=section, trigger=trigger, target_id=target,
                             since=aware(since), until=aware(until), within=within)


Text = Annotated[str | None, Query(max_length=100)]


@router.get("", response_model=RecordsPublic, responses=responses(403))
def search(session: SessionDep, caller: CurrentActor, actor: Text = None, section: Text = None, trigger: Text = None,
           target: IdQuery = None, since: datetime | None = None, until: datetime | None = None,
           limit: Limit = 50, offset: Offset = 0, after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
           ) -> RecordsPublic:
    """Transition records matching the filters, oldest first (since inclusive, until exclusive).

    With ``after`` (a record id; 0 for the start): keyset paging, the records after it and
    ``next_after`` for the next page, at the same cost at any depth and without a count."""
    filters = _filters(actor, section, trigger, target, since, until, within=scope.audit_within(session, caller))
    if after is not None:
        records, next_after = audit.page_after(session=session, filters=filters, after=after, limit=limit)
        return RecordsPublic(data=[record_public(r) for r in records], count=None, next_after=next_after)
    records, count = audit.search(session=session, filters=filters, limit=limit, offset=offset)
    return RecordsPublic(data=[record_public(r) for r in records], count=count,
                         next_after=records[-1].id if records and offset + len(records) < count else None)


EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


@router.get("/export", responses={**responses(403), 200: {"content": {m: {} for m in EXPORTS.values()}}},
            response_class=Response)
def export(session: SessionDep, caller: CurrentActor, format: Literal["csv", "xlsx", "json"] = "csv", actor: Text = None,
           section: Text = None, trigger: Text = None, target: IdQuery = None, since: datetime | None = None,
           until: datetime | None = None) -> Response:
    """The matching records as a CSV, XLSX or JSON file, streamed (memory stays flat however many match)."""
    return export_response(session, format, _filters(actor, section, trigger, target, since, until,
                                                     within=scope.audit_within(session, caller)))


def export_response(session: Session, format: str, filters: audit.AuditFilter) -> StreamingResponse:
    """The streamed download of the records matching ``filters`` in ``format`` (csv, xlsx or json)."""
    name = f"audit-{clock.now():%Y%m%d-%H%M%S}.{format}"
    return StreamingResponse(audit_stream(session.get_bind(), format, filters, definitions.audit_labels()),
                             media_type=EXPORTS[format],
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def audit_stream(bind, format: str, filters: audit.AuditFilter, labels: audit.Labels | None = None) -> Iterator[bytes]:
    """An export in pieces, read in a session of its own (the request's is closed by then)."""
    with Session(bind) as session:
        if format == "csv":
            yield from audit.stream_csv(session, filters, labels)
        elif format == "xlsx":
            yield from audit.stream_xlsx(session, filters, labels)
        else:
            yield from audit.stream_json(session, filters)


@router.get("/verify", response_model=ChainCheckPublic, responses=responses(403))
def verify(session: SessionDep, caller: CurrentActor) -> ChainCheckPublic:
    """Replay the whole chain (hashes, checkpoints) and compare every target, user, milestone and evidence
    file with it: the count, the first record that does not match, the objects that disagree (for the
    office or auditor of the organisation at the top, who reads them all)."""
    scope.whole_chain(session, caller)
    check = replay.verify(session=session, public_pem=checkpoints.public_pem())
    return ChainCheckPublic(count=check.count, ok=check.ok, first_bad_id=check.first_bad_id,
                            reason=check.problem or (check.differences[0] if check.differences else ""),
                            differences=check.differences, report=check.lines)


@router.get("/key", response_model=AuditKeyPublic, responses=responses(403))
def key(session: SessionDep) -> AuditKeyPublic:
    """The public key that checks the signed checkpoints, its fingerprint, and the newest checkpoint."""
    info = checkpoints.public_key_info() or {}
    return AuditKeyPublic(public_key=info.get("pem"), fingerprint=info.get("fingerprint"),
                          latest_checkpoint=checkpoints.latest(session))
