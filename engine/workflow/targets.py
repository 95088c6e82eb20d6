"""Targets: creating them at the start of their workflow, and reading who they belong to."""
from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import JSON, Boolean, Connection, Integer, String, column, exists, func, literal, or_, text, tuple_
from sqlmodel import Session, delete, select

from engine.audit import chain, ledger
from engine.calendar import clock
from engine.workflow import deployments
from engine.people import scope
from engine.people.actors import Actor, Parties
from engine.people.roles import SYSTEM_ROLE
from engine.workflow.duedates import state_due
from engine.workflow.rules import CHILD_FINISHED
from engine.store import rows
from engine.store.direct import Direct
from engine.store.errors import InvalidPayload, NotFound
from engine.store.models import Assignment, ChainHead, Milestone, Plan, Signature, Target

KINDS = ("section", "leader", "person")


def get(*, session: Session, target_id: int, actor: Actor | None = None) -> Target:
    """The target with ``target_id`` as ``actor`` reads it; :class:`NotFound` if there is none, or it is
    of an organisation they do not read (``None``: the system, which reads every one)."""
    target = session.get(Target, target_id)
    if target is None or not scope.may_read(session, actor, target.org_id):
        raise NotFound(f"目标 {target_id} 不存在", target_id=target_id)
    return target


def parties_of(session: Session, target_id: int) -> Parties:
    """The sections (lead first), leaders and persons of a target, in the plan's order."""
    return parties_for(session, [target_id])[target_id]


def parties_for(session: Session, target_ids: Sequence[int]) -> dict[int, Parties]:
    """:func:`parties_of` for many targets in one query (a page of a list)."""
    found: dict[int, dict[str, list[str]]] = {i: {kind: [] for kind in KINDS} for i in target_ids}
    if target_ids:
        rows = session.exec(
            select(Assignment.target_id, Assignment.kind, Assignment.name)
            .where(Assignment.target_id.in_(list(target_ids)))
            .order_by(Assignment.target_id, Assignment.kind, Assignment.position)
        )
        for target_id, kind, name in rows:
            found[target_id][kind].append(name)
    return {i: Parties(tuple(p["section"]), tuple(p["leader"]), tuple(p["person"])) for i, p in found.items()}


@dataclass(frozen=True)
class Loaded:
    """What one transition needs, read in one statement: the target (locked on PostgreSQL),
    its parties, the leaders who signed, the plan's milestones and the head of its organisation's
    chain (locked)."""

    target: Target
    parties: Parties
    #: The signatures on its current self-assessment: (signer, signed_at), in the order given.
    signed: tuple[tuple[str, datetime], ...]
    milestones: dict[str, date]
    head: ChainHead
    #: The (trigger, actor) pairs of the target's transitions so far (for the separation of duties).
    done: frozenset[tuple[str, str]]
    #: Whether messages about the target are still open (未办结): a change of state closes them.
    open_items: bool
    #: Whether a target handed down from it is not yet verified (汇总 incomplete).
    children_open: bool
    #: Whether targets were handed down from it (a roll-up), and whether it has quantitative indicators.
    children: bool = True
    indicators: bool = True

    @property
    def signers(self) -> list[str]:
        """The leaders who signed, in order."""
        return [signer for signer, _ in self.signed]


_COLUMNS = list(Target.__table__.columns)
_COLUMN_NAMES = tuple(c.name for c in _COLUMNS)
_AGGREGATES = {
    "sqlite": ("(SELECT json_group_array(json_array(kind, name)) FROM (SELECT kind, name FROM assignment "
               "WHERE target_id = t.id ORDER BY kind, position))",
               "(SELECT json_group_array(json_array(signer, signed_at)) FROM (SELECT signer, signed_at FROM signature "
               "WHERE target_id = t.id ORDER BY id))",
               "(SELECT json_group_object(key, due_date) FROM milestone WHERE plan_id = t.plan_id)",
               "(SELECT json_group_array(json_array(trigger, actor)) FROM (SELECT DISTINCT trigger, actor "
               "FROM transitionrecord WHERE target_id = t.id AND kind = 'transition'))", ""),
    "postgresql": ("(SELECT json_agg(json_build_array(kind, name) ORDER BY kind, position) FROM assignment "
                   "WHERE target_id = t.id)",
                   "(SELECT json_agg(json_build_array(signer, signed_at) ORDER BY id) FROM signature WHERE target_id = t.id)",
                   "(SELECT json_object_agg(key, due_date) FROM milestone WHERE plan_id = t.plan_id)",
                   "(SELECT json_agg(json_build_array(trigger, actor)) FROM (SELECT DISTINCT trigger, actor "
                   "FROM transitionrecord WHERE target_id = t.id AND kind = 'transition') AS done)",
                   # rows are locked in the order of FROM: the target first, then the head, as every writer does
                   " FOR UPDATE OF t, h"),
}
_LOADS: dict[tuple[str, bool], Direct] = {}
#: Which targets a batch's load reads: the ``ids`` given (a JSON list on SQLite, an array on PostgreSQL).
_MANY = {"sqlite": "t.id IN (SELECT value FROM json_each(:ids))", "postgresql": "t.id = ANY(:ids)"}


def _load_statement(dialect: str, many: bool = False):
    """The statement reading a target (``:target_id``) and all a transition reads about it; with ``many``, those
    of the targets ``:ids``, in the order of their keys (the order they are locked in)."""
    if (dialect, many) not in _LOADS:
        parties, signers, milestones, done, lock = _AGGREGATES[dialect]
        names = ", ".join(f't."{c.name}"' for c in _COLUMNS)
        finished = ", ".join(f"'{state}'" for state in CHILD_FINISHED)
        which, order = (_MANY[dialect], " ORDER BY t.id") if many else ("t.id = :target_id", "")
        _LOADS[dialect, many] = Direct(text(
            f"SELECT {names}, h.count AS head_count, h.last_id AS head_last_id, h.last_hash AS head_last_hash, "
            f"{parties} AS parties, {signers} AS signers, {milestones} AS milestones, {done} AS done, "
            f"EXISTS (SELECT 1 FROM inboxitem WHERE target_id = t.id AND done_at IS NULL) AS open_items, "
            f"EXISTS (SELECT 1 FROM target WHERE parent_id = t.id AND state NOT IN ({finished})) AS children_open, "
            f"EXISTS (SELECT 1 FROM target WHERE parent_id = t.id) AS children, "
            f"EXISTS (SELECT 1 FROM indicator WHERE target_id = t.id) AS indicators, "
            f"(SELECT version FROM target WHERE id = t.id) AS seen_version "
            f"FROM target AS t, chainhead AS h WHERE {which} AND h.id = t.org_id{order}{lock}"
        ).columns(*_COLUMNS, column("head_count", Integer), column("head_last_id", Integer),
                  column("head_last_hash", String), column("parties", JSON), column("signers", JSON),
                  column("milestones", JSON), column("done", JSON), column("open_items", Boolean),
                  column("children_open", Boolean), column("children", Boolean), column("indicators", Boolean),
                  column("seen_version", Integer)))
    return _LOADS[dialect, many]


def warm(connection: Connection) -> None:
    """Run the load statements for no target, twice (the first run through SQLAlchemy, which finds how the
    results convert; the second on the driver's cursor): compiled for the database and, on PostgreSQL,
    planned on this connection before a fire needs them. Reads nothing, locks nothing."""
    dialect = connection.dialect.name
    for _ in range(2):
        _load_statement(dialect).mapping(connection, {"target_id": 0})
        _load_statement(dialect, many=True).mappings(connection, {"ids": "[]" if dialect == "sqlite" else []})


def load_for_fire(session: Session, target_id: int, *, connection: Connection | None = None,
                  preloaded: dict[str, Any] | None = None) -> Loaded:
    """The target and all a transition reads about it, in one round trip; :class:`NotFound` if there is none.

    The target is the session's object for that row, with the values just read. The chain
    head is read under the write lock (SQLite's, taken at BEGIN IMMEDIATE) or locked with the
    target (PostgreSQL), so the caller may append to the chain from it. ``preloaded``: the target's
    row as :func:`preload` read it in this transaction (then nothing is read).
    """
    if preloaded is not None:
        return _loaded(session, preloaded)
    connection = connection or session.connection()
    statement = _load_statement(connection.dialect.name)
    values = statement.mapping(connection, {"target_id": target_id})
    if values is not None and values["seen_version"] != values["version"]:
        # PostgreSQL waited for the lock while another transition committed: the locked row is
        # the new one, but the subqueries saw the database as it was when the statement began.
        # Read again, under the locks now held (a fresh snapshot, no wait).
        values = statement.mapping(connection, {"target_id": target_id})
    if values is None:
        org_id = connection.execute(text("SELECT org_id FROM target WHERE id = :t"), {"t": target_id}).scalar()
        if org_id is None:
            raise NotFound(f"目标 {target_id} 不存在", target_id=target_id)
        chain.ensure_head(connection, org_id)  # the organisation's first record: its chain begins
        values = statement.mapping(connection, {"target_id": target_id})
    return _loaded(session, values)


def preload(session: Session, target_ids: Iterable[int], *, connection: Connection | None = None) -> dict[int, dict]:
    """What :func:`load_for_fire` reads, for several targets at once (one round trip, the targets and their
    chains' heads locked as one), by target: each row for ``load_for_fire(preloaded=…)`` in the same
    transaction, as long as nothing written since changed what it holds. A target with targets handed
    down from it is left out (a fire on one of those changes what it reads), as is one the database
    changed while the statement waited for its lock, and one that does not exist (or has no chain yet):
    those are read on their own when fired."""
    connection = connection or session.connection()
    ids = sorted(set(target_ids))
    if not ids:
        return {}
    dialect = connection.dialect.name
    found = _load_statement(dialect, many=True).mappings(
        connection, {"ids": json.dumps(ids) if dialect == "sqlite" else ids})
    return {values["id"]: values for values in found
            if values["seen_version"] == values["version"] and not values["children"]}


def _loaded(session: Session, values: dict[str, Any]) -> Loaded:
    """A :class:`Loaded` from the load statement's row ``values`` (the target becomes the session's object)."""
    target = rows.persistent(session, Target, {name: values[name] for name in _COLUMN_NAMES})
    found: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for kind, name in values["parties"] or ():
        found[kind].append(name)
    head = rows.known_or_detached(session, ChainHead, {"id": target.org_id, "count": values["head_count"], "last_id": values["head_last_id"],
                                     "last_hash": values["head_last_hash"]})
    milestones = {key: date.fromisoformat(str(due)[:10]) for key, due in (values["milestones"] or {}).items()}
    signed = tuple((signer, _timestamp(at)) for signer, at in values["signers"] or ())
    return Loaded(target, Parties(tuple(found["section"]), tuple(found["leader"]), tuple(found["person"])),
                  signed, milestones, head,
                  frozenset((trigger, actor) for trigger, actor in values["done"] or ()),
                  bool(values["open_items"]), bool(values["children_open"]),
                  bool(values["children"]), bool(values["indicators"]))


def _timestamp(value) -> datetime:
    """A timestamp as a JSON aggregate gives it (SQLite's stored text, PostgreSQL's ISO form)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def assignments(target_id: int, parties: Parties) -> list[Assignment]:
    """The assignment rows for ``parties`` (names in order, without repeats)."""
    return [Assignment(**values) for values in assignment_rows(target_id, parties)]


def assign(session: Session, target: Target, parties: Parties) -> None:
    """Replace the target's sections, leaders and persons with ``parties``; flushes."""
    session.exec(delete(Assignment).where(Assignment.target_id == target.id))
    session.add_all(assignments(target.id, parties))
    session.flush()


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(n for n in names if n))


def new(
    *,
    session: Session,
    plan_id: int,
    code: str,
    text: str,
    org_id: int | None = None,
    parent_id: int | None = None,
    weight: Decimal | int | float | str,
    due_date: date | None = None,
    deadline_phrase: str = "",
    category: str = "",
    indicator: str = "",
    indicator_points: Decimal | None = None,
    basis: str = "",
    workflow: str = "target",
    extra_columns: dict[str, str] | None = None,
    checkpoints: Sequence[str | dict] = (),
    subject_id: int | None = None,
) -> Target:
    """A new, unsaved target in the initial state of the newest version of its workflow, with that state's due date."""
    definition = deployments.newest(session, workflow)
    if org_id is None:
        org_id = session.get(Plan, plan_id).org_id
    item = {"code": code, "text": text, "parent_id": parent_id, "weight": weight, "due_date": due_date,
            "deadline_phrase": deadline_phrase, "category": category, "indicator": indicator,
            "indicator_points": indicator_points, "basis": basis, "extra_columns": extra_columns,
            "checkpoints": checkpoints, "subject_id": subject_id}
    return Target(**_values(session, definition, item, plan_id=plan_id, org_id=org_id, workflow=workflow,
                            today=clock.today()))


def _column_defaults() -> list[tuple[str, Any]]:
    """Each column of a target with its model default: a value, or a factory to call per row."""
    out = []
    for name, field in Target.model_fields.items():
        if name == "id":
            continue
        if field.default_factory is not None:
            out.append((name, field.default_factory))
        elif field.default is not PydanticUndefined:
            out.append((name, lambda value=field.default: value))
    return out


def new_rows(session: Session, *, plan_id: int, org_id: int, workflow: str, items: Sequence[dict[str, Any]],
             milestones: dict[str, date] | None = None) -> list[dict[str, Any]]:
    """The column values of new targets of one plan (each item: the fields :func:`new` takes), as :func:`new`
    makes them but without an object per target, for one bulk insert (:func:`insert_rows`). ``milestones``:
    the plan's (key → due date), when the caller has read them."""
    definition = deployments.newest(session, workflow)
    if milestones is None:
        milestones = dict(session.exec(select(Milestone.key, Milestone.due_date).where(Milestone.plan_id == plan_id)).all())
    today = clock.today()
    return [_values(session, definition, item, plan_id=plan_id, org_id=org_id, workflow=workflow, today=today,
                    milestones=milestones) for item in items]


def _values(session: Session, definition, item: dict[str, Any], *, plan_id: int, org_id: int, workflow: str,
            today: date, milestones: dict[str, date] | None = None) -> dict[str, Any]:
    """Every column of a new target (but its id) from the fields ``item`` gives and the models' defaults, in the
    initial state of ``definition`` with that state's due date (``milestones``: the plan's, if read already)."""
    values = {name: make() for name, make in _column_defaults()}
    values.update(item, plan_id=plan_id, org_id=org_id, workflow=workflow, workflow_version=definition.version,
                  state=definition.initial, weight=Decimal(str(item["weight"])),
                  extra_columns=dict(item.get("extra_columns") or {}), checkpoints=list(item.get("checkpoints") or ()))
    values["state_due"] = state_due(session, SimpleNamespace(**values), definition, definition.initial, today, milestones)
    return values


def insert_rows(session: Session, values: list[dict[str, Any]]) -> list[int]:
    """Insert the targets ``values`` (from :func:`new_rows`) in bulk; their keys, in order (each row's ``id`` is set)."""
    return rows.insert_many(session.connection(), Target.__table__, values)


def assignment_rows(target_id: int, parties: Parties) -> list[dict[str, Any]]:
    """:func:`assignments` as column values, for a bulk insert (:func:`insert_assignments`)."""
    return [{"target_id": target_id, "kind": kind, "name": name, "position": position}
            for kind, names in zip(KINDS, (parties.sections, parties.leaders, parties.persons), strict=True)
            for position, name in enumerate(_unique(names))]


def insert_assignments(session: Session, values: list[dict[str, Any]]) -> None:
    """Insert assignment rows (from :func:`assignment_rows`) in bulk."""
    rows.insert_many(session.connection(), Assignment.__table__, values, keys=False)


def create(*, session: Session, sections: Sequence[str] = (), leaders: Sequence[str] = (),
           persons: Sequence[str] = (), actor: str = "系统", role: str = SYSTEM_ROLE, comment: str = "",
           record: dict | None = None, **fields) -> Target:
    """A new target (see :func:`new` for the fields) with its sections, leaders and persons, and its
    creation record (by ``actor`` in ``role``; ``record``: more of its payload); flushes."""
    target = new(session=session, **fields)
    session.add(target)
    session.flush()
    session.add_all(assignments(target.id, Parties(tuple(sections), tuple(leaders), tuple(persons))))
    session.flush()
    ledger.created(session, [target], actor=actor, role=role, comment=comment, payload=record)
    return target


@dataclass(frozen=True)
class TargetFilter:
    """What a list of targets may be narrowed to; ``None`` means no restriction."""

    plan_id: int | None = None
    workflow: str | None = None
    state: str | None = None
    section: str | None = None
    leader: str | None = None
    overdue: bool | None = None
    supervised: bool | None = None
    q: str | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _has(kind: str, name: str):
    return exists().where(Assignment.target_id == Target.id, Assignment.kind == kind, Assignment.name == name)


SORTABLE = ("code", "state", "weight")
#: The sort key a list is ordered by before its due order (weight downwards: its negative upwards), each
#: with an index on it and the due order (migration 0022).
_LEADS = {"code": Target.code, "state": Target.state, "weight": -Target.weight}
#: The due order (``ix_target_due_order``): the due date of the current state, undated last, then id.
_UNDATED = Target.state_due.is_(None)
MAX_ID = 2_147_483_647  # ids stay within what every database's integer holds
_CURSOR_CHARS = 400


def conditions(filters: TargetFilter) -> list:
    """The SQL conditions on :class:`Target` that keep what ``filters`` keep."""
    found = []
    if filters.plan_id is not None:
        found.append(Target.plan_id == filters.plan_id)
    if filters.workflow:
        found.append(Target.workflow == filters.workflow)
    if filters.state:
        found.append(Target.state == filters.state)
    if filters.section:
        found.append(_has("section", filters.section))
    if filters.leader:
        found.append(_has("leader", filters.leader))
    if filters.supervised is not None:
        found.append(Target.supervised == filters.supervised)
    if filters.overdue is not None:
        late = (Target.state_due.is_not(None)) & (Target.state_due < clock.today())
        found.append(late if filters.overdue else ~late)
    q = (filters.q or "").replace("\x00", "")
    if q:
        pattern = f"%{_escape_like(q)}%"
        found.append(or_(Target.code.ilike(pattern, escape="\\"), Target.text.ilike(pattern, escape="\\"),
                               Target.indicator.ilike(pattern, escape="\\")))
    return found


def _query(session: Session, filters: TargetFilter, actor: Actor | None, where: Sequence):
    return select(Target).where(scope.targets(scope.of(session, actor)), *conditions(filters), *where)


def _order(sort: str | None) -> list:
    """The list's order, every key upwards: ``sort``'s key if any, then the due order (an index each)."""
    return [*([_LEADS[sort]] if sort in _LEADS else []), _UNDATED, Target.state_due, Target.id]


def search(*, session: Session, filters: TargetFilter, limit: int, offset: int,
           sort: str | None = None, actor: Actor | None = None, where: Sequence = ()) -> tuple[list[Target], int]:
    """A page of the targets ``actor`` reads matching ``filters`` (and the conditions ``where``) and the total;
    by the due date of their current state (none last), or by ``sort`` (one of :data:`SORTABLE`)."""
    query = _query(session, filters, actor, where)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    page = session.exec(query.order_by(*_order(sort)).limit(limit).offset(offset)).all()
    return list(page), total


def cursor(target: Target, sort: str | None = None) -> str:
    """The opaque place of ``target`` in the list by ``sort``: what :func:`page_after` and :func:`page_before`
    take (urlsafe base64 of its sort key, due date and id)."""
    lead = getattr(target, sort) if sort in _LEADS else None  # the weight itself, not its negative
    values = [sort if sort in _LEADS else "due", str(lead) if lead is not None else None,
              target.state_due.isoformat() if target.state_due else None, target.id]
    return base64.urlsafe_b64encode(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()).decode().rstrip("=")


def place_after(found: Sequence[Target], offset: int, total: int, sort: str | None = None) -> str | None:
    """The place after the page ``found`` of :func:`search` at ``offset`` of ``total`` (what :func:`page_after`
    takes), ``None`` on the last page."""
    return cursor(found[-1], sort) if found and offset + len(found) < total else None


def _place(text: str, sort: str | None) -> list:
    """The key values of the row at the place ``text`` (from :func:`cursor`) in the order by ``sort``, as
    :func:`_order` lists them; :class:`InvalidPayload` for anything else."""
    wanted = sort if sort in _LEADS else "due"
    refused = InvalidPayload("翻页位置无效：请从第一页重新翻页", errors=[{"field": "after", "reason": "无效的翻页位置"}])
    try:
        if len(text) > _CURSOR_CHARS:
            raise ValueError
        kind, lead, due, target_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if kind not in ("due", *_LEADS):
            raise ValueError
        if kind != wanted:
            raise InvalidPayload("翻页位置属于另一种排序：请从第一页重新翻页",
                                 errors=[{"field": "after", "reason": "翻页位置与排序不符"}])
        due = date.fromisoformat(due) if due is not None else None
        if not (isinstance(target_id, int) and not isinstance(target_id, bool) and 0 < target_id <= MAX_ID):
            raise ValueError
        if wanted == "due":
            if lead is not None:
                raise ValueError
        elif not isinstance(lead, str) or len(lead) > 200:
            raise ValueError
        elif wanted == "weight":
            lead = -Decimal(lead)
            if not lead.is_finite():
                raise ValueError
    except (ValueError, TypeError, ArithmeticError):
        raise refused from None
    return [*([lead] if wanted != "due" else []), due is None, due, target_id]


def _beyond(sort: str | None, values: list, backwards: bool):
    """The condition "after (or before) the row with these key values" in the order by ``sort``, as one
    row comparison, ``(state_due IS NULL, state_due, id) > (…)``, from which the order's index starts its
    range. Undated, the due date is left out (NULL compares as unknown; every undated row has it)."""
    keys = [(key, value) for key, value in zip(_order(sort), values, strict=True)
            if not (key is Target.state_due and value is None)]
    left, right = tuple_(*(k for k, _ in keys)), tuple_(*(literal(v, k.type) for k, v in keys))
    return left < right if backwards else left > right


def _keyset(session: Session, filters: TargetFilter, place: str, limit: int, sort: str | None, actor: Actor | None,
            where: Sequence, backwards: bool) -> tuple[list[Target], bool]:
    """Up to ``limit`` targets after (before) ``place``, in the list's order, and whether more follow (precede)."""
    query = _query(session, filters, actor, where)
    if place:
        query = query.where(_beyond(sort, _place(place, sort), backwards))
    order = [key.desc() for key in _order(sort)] if backwards else _order(sort)
    found = list(session.exec(query.order_by(*order).limit(limit + 1)))
    more = len(found) > limit
    found = found[:limit]
    return (found[::-1] if backwards else found), more


def page_after(*, session: Session, filters: TargetFilter, after: str, limit: int, sort: str | None = None,
               actor: Actor | None = None, where: Sequence = ()) -> tuple[list[Target], str | None]:
    """Keyset paging: up to ``limit`` of the targets :func:`search` lists that come after the place ``after``
    (a :func:`cursor`; ``""`` for the start), and the ``after`` of the next page (``None`` on the last). The
    same cost at any depth; counts nothing. :class:`InvalidPayload` for a place that is not one."""
    found, more = _keyset(session, filters, after, limit, sort, actor, where, backwards=False)
    return found, (cursor(found[-1], sort) if more else None)


def page_before(*, session: Session, filters: TargetFilter, before: str, limit: int, sort: str | None = None,
                actor: Actor | None = None, where: Sequence = ()) -> tuple[list[Target], str | None]:
    """Keyset paging backwards: up to ``limit`` of the targets before the place ``before``, in the list's
    order, and the ``before`` of the page before them (``None`` when there is none)."""
    found, more = _keyset(session, filters, before, limit, sort, actor, where, backwards=True)
    return found, (cursor(found[0], sort) if more else None)


def is_overdue(target: Target) -> bool:
    """Whether the target's current state is past its due date (never for 长期)."""
    return target.state_due is not None and target.state_due < clock.today()


def signatures(session: Session, target_id: int) -> list[Signature]:
    """The signatures on the target's current self-assessment, in the order given."""
    return list(session.exec(select(Signature).where(Signature.target_id == target_id).order_by(Signature.id)))


#: The distinct names of one kind of assignment by a skip scan of ``ix_assignment_kind_name`` (the next name
#: after each, one index probe apiece: as many steps as there are names, however many targets name them),
#: each kept, for an organisation, where one of its targets names it (the first such row ends the probe):
#: well under a millisecond at 100,000 targets on PostgreSQL, where a DISTINCT over the join scans them all.
_NAMES = """
WITH RECURSIVE names(name) AS (
    SELECT (SELECT min(name) FROM assignment WHERE kind = :kind)
    UNION ALL
    SELECT (SELECT min(a.name) FROM assignment AS a WHERE a.kind = :kind AND a.name > names.name)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL"""
# A scalar subquery with LIMIT 1, not EXISTS: PostgreSQL would hash an EXISTS over every assignment.
_OF_ORGANISATION = """ AND (
    SELECT 1 FROM assignment AS a JOIN target AS t ON t.id = a.target_id
    WHERE a.kind = :kind AND a.name = names.name AND t.org_id = :org LIMIT 1) IS NOT NULL"""


def _named(session: Session, kind: str, actor: Actor | None) -> list[str]:
    # The actor's own organisation's names: those of every organisation below would be a list of
    # thousands to choose from.
    found = scope.of(session, actor)
    if found.everywhere:
        return sorted(session.execute(text(_NAMES), {"kind": kind}).scalars())
    return sorted(session.execute(text(_NAMES + _OF_ORGANISATION), {"kind": kind, "org": found.org_id}).scalars())


def section_names(session: Session, actor: Actor | None = None) -> list[str]:
    """Every section some target of ``actor``'s organisation names, for filters (a name of an organisation
    below is still a filter the list takes)."""
    return _named(session, "section", actor)


def leader_names(session: Session, actor: Actor | None = None) -> list[str]:
    return _named(session, "leader", actor)
