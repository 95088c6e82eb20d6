"""Workflow definitions deployed at run time, every version kept.

A deployment stores a definition's source as given (YAML, or BPMN with the YAML it translates to),
who deployed it and when, under the next version number of its id; each one writes a chained
record. A target runs on the version it was created with (``Target.workflow_version``): new
targets take the newest version, running ones finish on theirs unless :func:`migrate` moves them,
with a state mapping and a chained record each.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from engine.audit import chain, ledger
from engine.calendar import clock
from engine.store import db
from engine.store.errors import InvalidPayload, NotFound
from engine.store.models import Deployment, Target
from engine.workflow import definitions, machines
from engine.workflow.definitions import Definition
from engine.workflow.duedates import state_due

FORMATS = ("yaml", "bpmn")
_VERSION_LINE = re.compile(r"(?m)^version:[^\n#]*")


def checksum(text: str) -> str:
    """SHA-256 of a deployment's source."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _with_version(text: str, version: int) -> str:
    """The YAML ``text`` with its top-level ``version`` set to ``version``."""
    return _VERSION_LINE.sub(f"version: {version}", text, count=1)


def _parsed(row: Deployment) -> Definition:
    return definitions.parse(row.definition, f"{row.workflow}@{row.version}")


def resolve(session: Session, workflow_id: str, version: int) -> Definition:
    """The definition a target of ``workflow_id`` at ``version`` runs on: read once per process."""
    key = (workflow_id, version)
    if key in definitions._deployed:
        return definitions._deployed[key]
    row = session.exec(select(Deployment).where(Deployment.workflow == workflow_id,
                                                Deployment.version == version)).first()
    if row is not None:
        found = _parsed(row)
    else:
        shipped = definitions.shipped().get(workflow_id)
        if shipped is None or shipped.version != version:
            raise NotFound(f"工作流 {workflow_id} 没有第 {version} 版", workflow=workflow_id, version=version)
        found = shipped  # a database where the shipped definitions were never deployed
    definitions.register(found)
    return found


def newest(session: Session, workflow_id: str) -> Definition:
    """The newest deployed version of ``workflow_id`` (the shipped one where nothing is deployed); read once
    per session, so that a plan's many new targets ask once."""
    seen = session.info.setdefault("newest_workflow", {})
    if workflow_id not in seen:
        seen[workflow_id] = session.exec(select(func.max(Deployment.version))
                                         .where(Deployment.workflow == workflow_id)).one()
    version = seen[workflow_id]
    if version is None:
        if workflow_id not in definitions.shipped():
            raise NotFound(f"没有工作流定义 {workflow_id}（请先部署）", workflow=workflow_id)
        return definitions.shipped()[workflow_id]
    return resolve(session, workflow_id, version)


def running(session: Session) -> list[Definition]:
    """Every version targets may run on: each deployed one, and each shipped one never deployed (a database
    where ``init`` did not run). The scheduled sweeps go through these, each with its own rules."""
    found = [resolve(session, w, v) for w, v in session.exec(select(Deployment.workflow, Deployment.version)
                                                             .order_by(Deployment.workflow, Deployment.version))]
    deployed = {d.id for d in found}
    return found + [d for wid, d in definitions.shipped().items() if wid not in deployed]


@dataclass(frozen=True)
class Deployed:
    """What :func:`deploy` did: the row, the definition, and whether it is new (``False``: the same source
    was the newest version already)."""

    deployment: Deployment
    definition: Definition
    new: bool


def _latest(session: Session, workflow_id: str) -> Deployment | None:
    return session.exec(select(Deployment).where(Deployment.workflow == workflow_id)
                        .order_by(Deployment.version.desc()).limit(1)).first()


def add(*, session: Session, definition_text: str, source: str | None = None, fmt: str = "yaml",
        filename: str = "", actor: str = "系统", role: str = "system") -> Deployed:
    """Deploy a definition (YAML text; ``source``: the BPMN it was translated from) as the next version
    of its id, checked as ``workflows check`` does (:class:`~engine.workflow.definitions.DefinitionError`);
    audited; flushes. The same source as the newest version deploys nothing. A shipped id deploys its
    shipped definition as version 1 first."""
    if fmt not in FORMATS:
        raise InvalidPayload(f"部署格式只能是 {'、'.join(FORMATS)}，收到：{fmt}")
    source = definition_text if source is None else source
    parsed = definitions.parse(definition_text, filename or "deployment.yaml")
    latest = _latest(session, parsed.id)
    if latest is None and parsed.id in definitions.shipped() \
            and checksum(source) != checksum(definitions.source_text(parsed.id)):
        latest = add(session=session, definition_text=definitions.source_text(parsed.id),
                     filename=definitions.shipped()[parsed.id].source).deployment
    if latest is not None and latest.checksum == checksum(source):
        return Deployed(latest, resolve(session, latest.workflow, latest.version), new=False)
    version = latest.version + 1 if latest else 1
    text = _with_version(definition_text, version)
    definition = definitions.parse(text, filename or "deployment.yaml")
    row = Deployment(workflow=definition.id, version=version, format=fmt, source=source, definition=text,
                     checksum=checksum(source), deployed_by=actor, deployed_at=clock.to_db(clock.now()))
    session.add(row)
    session.flush()
    chain.append(session, target_id=None, kind="system", actor=actor, role=role, trigger="deploy",
                 from_state=None, to_state=None, at=row.deployed_at, comment="",
                 payload={"workflow": definition.id, "version": version, "format": fmt, "checksum": row.checksum,
                          "file": filename})
    definitions.register(definition)
    session.info.setdefault("newest_workflow", {})[definition.id] = version
    return Deployed(row, definition, new=True)


def deploy(*, session: Session, **fields: Any) -> Deployed:
    """:func:`add` as a command of its own: commits (or, on any error, writes nothing)."""
    db.begin_write(session)
    try:
        done = add(session=session, **fields)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return done


def deploy_shipped(*, session: Session) -> list[Deployed]:
    """Every shipped definition as version 1, unless its id is deployed already; commits."""
    done = []
    for workflow_id, definition in definitions.shipped().items():
        if _latest(session, workflow_id) is None:
            done.append(deploy(session=session, definition_text=definitions.source_text(workflow_id),
                               filename=definition.source))
    return done


def listing(*, session: Session) -> list[Deployment]:
    """Every deployment, by id and version."""
    return list(session.exec(select(Deployment).order_by(Deployment.workflow, Deployment.version)))


def counts(*, session: Session) -> dict[tuple[str, int], int]:
    """How many targets run on each (workflow, version)."""
    rows = session.exec(select(Target.workflow, Target.workflow_version, func.count())
                        .group_by(Target.workflow, Target.workflow_version))
    return {(w, v): n for w, v, n in rows}


def migrate(*, session: Session, workflow_id: str, from_version: int, to_version: int,
            mapping: dict[str, str] | None = None, actor: str = "系统", role: str = "system") -> list[Target]:
    """Move every target of ``workflow_id`` on ``from_version`` to ``to_version``; a state the new version
    does not have needs ``mapping`` (old → new). Refuses before changing anything when a state has no
    mapping; each target moved gets a chained record. Commits."""
    mapping = dict(mapping or {})
    old, new = resolve(session, workflow_id, from_version), resolve(session, workflow_id, to_version)
    bad = [f"{k}={v}" for k, v in mapping.items() if k not in old.states or v not in new.states]
    if bad:
        raise InvalidPayload(f"状态对应无效（旧状态须在第 {from_version} 版、新状态须在第 {to_version} 版中）：{'、'.join(bad)}")
    db.begin_write(session)
    try:
        targets = list(session.exec(select(Target).where(Target.workflow == workflow_id,
                                                         Target.workflow_version == from_version)
                                    .order_by(Target.id).with_for_update()))
        unmapped = sorted({t.state for t in targets if t.state not in mapping and t.state not in new.states})
        if unmapped:
            raise InvalidPayload(f"第 {to_version} 版没有这些状态，请用 --map 旧状态=新状态 指定：{'、'.join(unmapped)}",
                                 states=unmapped)
        now = clock.now()
        for target in targets:
            _move(session, target, new, mapping.get(target.state, target.state), now, actor, role, from_version)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return targets


def _move(session: Session, target: Target, new: Definition, state: str, now, actor: str, role: str,
          from_version: int) -> None:
    from_state = target.state
    target.workflow_version = new.version
    if state != from_state:
        target.state, target.entry = state, target.entry + 1
        target.state_entered_at = clock.to_db(now)
        target.state_due = state_due(session, target, new, state, now.date())
        target.escalation_level, target.supervised, target.supervised_against = 0, False, []
    target.updated_at = clock.to_db(now)
    session.add(target)
    session.flush()  # the version bump (optimistic locking) happens here
    chain.append(session, target_id=target.id, kind="migration", actor=actor, role=role, trigger="migrate",
                 from_state=from_state, to_state=target.state, at=clock.to_db(now), comment="",
                 payload={"workflow": new.id, "from_version": from_version, "to_version": new.version,
                          "after": ledger.target_after(target)})


def forget() -> None:
    """Forget the deployed definitions and machines this process has read (another database)."""
    definitions.forget()
    machines.forget()
