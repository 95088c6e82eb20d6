"""The domain's tables (SQLModel).

Timestamps are aware, stored in UTC (see :mod:`engine.calendar.clock`); dates are local dates in the plan's
zone. People and sections are referred to by name on targets, as the plan writes them,
so that a plan can be imported before or after its people are added as users.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from engine.calendar import clock


def _now() -> datetime:
    return clock.to_db(clock.now())


#: Kinds of organisation, from the top of the tree down: 省厅, 市局, 县(市、区)局, 学校, 其他单位.
ORGANISATION_KINDS = ("province", "bureau", "county", "school", "unit")


class Organisation(SQLModel, table=True):
    """An organisation of the deployment (province → city bureau → county bureaus → schools and units).

    Each has its own sections, people, office, plans and settings. ``path`` is the chain of ids from
    the root down to this organisation, each followed by ``/`` (``1/5/23/``): an organisation's
    descendants are the rows whose path starts with its own, one index range.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    kind: str = Field(default="bureau", max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    path: str = Field(default="", max_length=400, index=True)
    created_at: datetime = Field(default_factory=_now)


class Plan(SQLModel, table=True):
    """An organisation's annual performance plan (绩效目标考评表)."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id", index=True)
    #: The organisation's name as the plan's table writes it.
    org: str = Field(max_length=200)
    year: int
    title: str = Field(max_length=300)
    timezone: str = Field(default="Asia/Shanghai", max_length=60)
    #: Category name → its points as the table writes them (重点工作目标 → 68, …).
    categories: dict[str, float] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: How this plan is scored: grade bands and the indicator rule (see :mod:`engine.scoring.sheet`); empty: the defaults.
    scoring: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: How this plan is supervised: warning thresholds, the circular's day (see :mod:`engine.schedule.warnings`).
    supervision: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}"))
    #: The workflow id the plan's targets run on: new ones start on its newest deployed version.
    workflow: str = Field(default="target", max_length=60, sa_column_kwargs={"server_default": "target"})
    created_at: datetime = Field(default_factory=_now)

    __table_args__ = (UniqueConstraint("org_id", "year", name="uq_plan_org_year"),)


class Milestone(SQLModel, table=True):
    """A dated step of a plan (e.g. self-assessments signed by 30 December); editable plan data."""

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE")
    key: str = Field(max_length=60)
    label: str = Field(max_length=200)
    phrase: str = Field(default="", max_length=60)
    due_date: date

    __table_args__ = (UniqueConstraint("plan_id", "key", name="uq_milestone_plan_key"),)


class Section(SQLModel, table=True):
    """A section of an organisation (科室); its name is unique within the organisation."""

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    name: str = Field(max_length=100)

    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_section_org_name"),)


class User(SQLModel, table=True):
    """A person who logs in, a member of one organisation.

    ``name`` is the name the organisation's plans write, unique within the organisation; ``login`` is
    unique in the deployment (the name itself, qualified by the organisation where another has it).
    """

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisation.id")
    name: str = Field(max_length=100)
    login: str = Field(max_length=200, unique=True)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    password_hash: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=300)
    active: bool = True
    #: Consecutive failed logins, and until when the next attempt must wait (slows guessing down).
    failed_logins: int = 0
    locked_until: datetime | None = None
    #: Sessions and tokens issued before this moment are void (logout, a new password).
    sessions_since: datetime | None = None
    created_at: datetime = Field(default_factory=_now)

    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_user_org_name"),)


class UserSection(SQLModel, table=True):
    """Membership of a user in a section."""

    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    section_id: int = Field(foreign_key="section.id", primary_key=True, ondelete="CASCADE")


class Target(SQLModel, table=True):
    """One row of a plan: a target worked on all year and moved through its workflow."""

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE")
    #: The plan's organisation, kept on the target so that every list is scoped by one index.
    org_id: int = Field(foreign_key="organisation.id")
    #: The target of the parent organisation this one was handed down from (下达), if any.
    parent_id: int | None = Field(default=None, foreign_key="target.id", index=True)
    #: How a handed-down target's children roll up into it (汇总): all | average | minimum | weighted; "" none.
    rollup: str = Field(default="", max_length=20)
    #: This child's weight in its parent's ``weighted`` roll-up.
    rollup_weight: Decimal | None = Field(default=None, sa_column=Column(Numeric(7, 2)))
    workflow: str = Field(default="target", max_length=60)
    #: The deployed version of ``workflow`` the target runs on (the one it was created with, or migrated to).
    workflow_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    code: str = Field(max_length=120)
    category: str = Field(default="", max_length=200)
    indicator: str = Field(default="")
    indicator_points: Decimal | None = Field(default=None, sa_column=Column(Numeric(7, 2)))
    basis: str = Field(default="")
    text: str
    weight: Decimal = Field(sa_column=Column(Numeric(7, 2), nullable=False))
    deadline_phrase: str = Field(default="", max_length=60)
    due_date: date | None = None
    state: str = Field(max_length=60)
    state_entered_at: datetime = Field(default_factory=_now)
    state_due: date | None = None
    #: How many times the target has entered a state: escalations and reminders count per entry.
    entry: int = 1
    #: The highest escalation level fired in this stay (0: none); the sweep skips fully escalated targets.
    escalation_level: int = 0
    version: int = 1
    supervised: bool = False
    progress: int = 0
    self_score: Decimal | None = Field(default=None, sa_column=Column(Numeric(7, 2)))
    score: Decimal | None = Field(default=None, sa_column=Column(Numeric(7, 2)))
    created_at: datetime = Field(default_factory=_now)
    updated_at: datetime = Field(default_factory=_now)
    #: Columns of the plan's table the engine does not read (考评依据, 备注 …), kept as written, in order.
    extra_columns: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False,
                                                                                 server_default="{}"))
    #: Earlier dates of a deadline phrase naming several (3月25日、9月25日前: 3月25日), ISO dates.
    checkpoints: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    #: Whom the 督办 is against while ``supervised``: whoever was late (sections, leaders or 绩效办).
    supervised_against: list[str] = Field(default_factory=list,
                                          sa_column=Column(JSON, nullable=False, server_default="[]"))
    #: The target a 督办单 or a 整改 item concerns (``None`` for the plan's own targets and report items).
    subject_id: int | None = Field(default=None, foreign_key="target.id", index=True, ondelete="CASCADE")
    #: The early-warning level (0 正常 … 3 红色预警) and its reason in words, set by the warning sweep.
    risk_level: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    risk_reason: str = Field(default="", sa_column_kwargs={"server_default": ""})

    __table_args__ = (
        UniqueConstraint("plan_id", "code", name="uq_target_plan_code"),
        # The overdue sweep and every "what is due" list: state first, then due date.
        Index("ix_target_state_due", "state", "state_due"),
        Index("ix_target_plan_state", "plan_id", "state"),
        Index("ix_target_plan_due", "plan_id", "due_date"),
        Index("ix_target_supervised", "supervised", "state_due"),
        Index("ix_target_org_state", "org_id", "state", "state_due"),
        # Everything the ranking counts, after the organisation: its counts are index-only ranges.
        Index("ix_target_org_tally", "org_id", "workflow", "plan_id", "state", "due_date", "state_due", "score",
              "weight"),
    )

    @declared_attr.directive
    def __mapper_args__(cls):  # noqa: N805
        # Every UPDATE of a target says "WHERE version = <the version I read>" and bumps it:
        # optimistic locking on every path that writes a target, not only in fire().
        return {"version_id_col": cls.__table__.c.version}


class Deployment(SQLModel, table=True):
    """One deployed version of a workflow definition: its source as given, and the definition the engine runs."""

    id: int | None = Field(default=None, primary_key=True)
    workflow: str = Field(max_length=60)
    version: int
    #: ``yaml`` or ``bpmn``: what ``source`` is written in.
    format: str = Field(max_length=10)
    source: str
    #: The YAML definition the engine runs (``source`` itself for YAML, its translation for BPMN).
    definition: str
    checksum: str = Field(max_length=64)
    deployed_by: str = Field(max_length=100)
    deployed_at: datetime = Field(default_factory=_now)

    __table_args__ = (UniqueConstraint("workflow", "version", name="uq_deployment_workflow_version"),)


class Assignment(SQLModel, table=True):
    """Who a target belongs to: its sections (the first is the lead 牵头科室), leaders and persons."""

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", ondelete="CASCADE")
    kind: str = Field(max_length=10)  # "section" | "leader" | "person"
    name: str = Field(max_length=100)
    position: int = 0

    __table_args__ = (
        UniqueConstraint("target_id", "kind", "name", name="uq_assignment"),
        Index("ix_assignment_kind_name", "kind", "name", "target_id"),
    )


class Indicator(SQLModel, table=True):
    """A measurable indicator of a target (≥560个, ≤5次, 10-11月份 …) and the latest reported actual value."""

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True, ondelete="CASCADE")
    position: int = 0
    name: str = Field(max_length=200)
    raw: str = Field(max_length=100)
    actual: str | None = Field(default=None, max_length=200)
    reported_at: datetime | None = None

    __table_args__ = (UniqueConstraint("target_id", "name", name="uq_indicator_target_name"),)


class Signature(SQLModel, table=True):
    """A leader's signature (审签) on a target's self-assessment; one per leader and round."""

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True, ondelete="CASCADE")
    signer: str = Field(max_length=100)
    record_id: int = Field(foreign_key="transitionrecord.id")
    signed_at: datetime = Field(default_factory=_now)

    __table_args__ = (UniqueConstraint("target_id", "signer", name="uq_signature_target_signer"),)


class TransitionRecord(SQLModel, table=True):
    """An append-only, hash-chained entry of the transition history (the audit log).

    Each organisation has its own chain (``org_id``; 0: the deployment's, for what belongs to no
    organisation), and ``seq`` is the record's place in it (1, 2, 3, …), given under that chain's
    lock; ``id`` is only the record's key, unique in the deployment. ``hash`` is SHA-256 over the
    canonical content of the record including its place and ``prev_hash``, the previous record's
    hash in the same chain; see :mod:`engine.audit.chain`.
    """

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(default=0)
    seq: int = Field(default=0)
    target_id: int | None = Field(default=None, foreign_key="target.id", index=True)
    #: The organisation the record belongs to (its target's; a person's or section's own); ``None``:
    #: deployment-wide, or written before there were organisations (the roots read those).
    org_id: int | None = Field(default=None)
    kind: str = Field(default="transition", max_length=20)  # transition | system | amendment
    actor: str = Field(max_length=100, index=True)
    role: str = Field(max_length=20)
    trigger: str = Field(max_length=60, index=True)
    from_state: str | None = Field(default=None, max_length=60)
    to_state: str | None = Field(default=None, max_length=60)
    at: datetime = Field(index=True)
    comment: str = Field(default="")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)

    __table_args__ = (Index("ix_transitionrecord_chain", "org_id", "seq", unique=True),)


class ChainHead(SQLModel, table=True):
    """The head of one audit chain: a row per chain, locked to serialise appends to that chain only.

    ``id`` is the organisation whose chain it is (0: the deployment chain). It also pins the
    length and the last hash (and the key of the last record), so that cutting records off the
    end of the chain is detected too.
    """

    id: int = Field(default=0, primary_key=True, sa_column_kwargs={"autoincrement": False})
    count: int = 0
    last_id: int = 0
    last_hash: str = Field(default="", max_length=64)


class OutboxEvent(SQLModel, table=True):
    """A notification to deliver, written in the same transaction as the change it reports."""

    id: int | None = Field(default=None, primary_key=True)
    event_type: str = Field(max_length=100)
    target_id: int | None = Field(default=None, foreign_key="target.id", index=True)
    record_id: int | None = Field(default=None, foreign_key="transitionrecord.id")
    recipients: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    available_at: datetime = Field(default_factory=_now)
    last_error: str = ""
    created_at: datetime = Field(default_factory=_now)

    __table_args__ = (Index("ix_outbox_status_available", "status", "available_at"),)


class MailDigest(SQLModel, table=True):
    """A user who takes e-mail as one daily digest (每日汇总) instead of one mail per message."""

    user_id: int = Field(foreign_key="user.id", primary_key=True, ondelete="CASCADE")
    #: The newest message the last digest held (the next one lists those after it).
    upto: datetime | None = None


class InboxItem(SQLModel, table=True):
    """A notification in a user's in-app inbox (always delivered, whatever other channels do)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", ondelete="CASCADE")
    event_id: int | None = Field(default=None, foreign_key="outboxevent.id")
    target_id: int | None = Field(default=None, foreign_key="target.id")
    subject: str = Field(max_length=300)
    body: str = ""
    created_at: datetime = Field(default_factory=_now)
    read_at: datetime | None = None
    #: When the work the message is about moved on (its target left the state it reported): 已办结.
    done_at: datetime | None = None

    __table_args__ = (
        Index("ix_inbox_user_read", "user_id", "read_at", "id"),
        Index("ix_inbox_target_open", "target_id", "done_at"),
        UniqueConstraint("user_id", "event_id", name="uq_inbox_user_event"),
    )


class Setting(SQLModel, table=True):
    """A value the processes of one installation share, such as the generated token signing key."""

    key: str = Field(primary_key=True, max_length=60)
    value: str


class Escalation(SQLModel, table=True):
    """One level of the escalation ladder fired for one stay of a target in a state (督办)."""

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", ondelete="CASCADE")
    entry: int
    state: str = Field(max_length=60)
    level: int
    due_date: date
    working_days_late: int
    record_id: int | None = Field(default=None, foreign_key="transitionrecord.id")
    fired_at: datetime = Field(default_factory=_now)

    __table_args__ = (UniqueConstraint("target_id", "entry", "level", name="uq_escalation_entry_level"),)


class Reminder(SQLModel, table=True):
    """A reminder sent so many working days before a state's due date; once per stay and distance."""

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", ondelete="CASCADE")
    entry: int
    days_before: int
    due_date: date
    sent_at: datetime = Field(default_factory=_now)

    __table_args__ = (UniqueConstraint("target_id", "entry", "days_before", name="uq_reminder_entry_days"),)


class ReportSchedule(SQLModel, table=True):
    """A recurring report of a plan (seed 001): monthly progress by the 25th, special reports, summaries."""

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE")
    key: str = Field(max_length=60)
    label: str = Field(max_length=200)
    #: Deadline phrases, one per due date in the year (每月25日前 is twelve of them).
    phrase: str = Field(max_length=60)
    #: How many days before its due date an item is created.
    lead_days: int = 10

    __table_args__ = (UniqueConstraint("plan_id", "key", name="uq_report_schedule_key"),)


class Delivery(SQLModel, table=True):
    """One outbox event delivered to one recipient over one channel, with its attempts.

    ``key`` is the idempotency key: unique, sent along (Message-ID, Idempotency-Key) so that a
    receiver can recognise a repeat.
    """

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="outboxevent.id", ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    channel: str = Field(max_length=20)  # inbox | email | webhook
    key: str = Field(max_length=120, unique=True)
    status: str = Field(default="pending", max_length=20)  # pending | sending | sent | dead | uncertain
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=_now)
    last_error: str = ""
    sent_at: datetime | None = None
    created_at: datetime = Field(default_factory=_now)

    __table_args__ = (Index("ix_delivery_status_next", "status", "next_attempt_at"),)


class Evidence(SQLModel, table=True):
    """An evidence file (佐证材料) attached to a target; stored under a random name, never the user's."""

    id: int | None = Field(default=None, primary_key=True)
    target_id: int = Field(foreign_key="target.id", index=True, ondelete="CASCADE")
    filename: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    stored_as: str = Field(max_length=100, unique=True)
    uploaded_by: str = Field(max_length=100)
    uploaded_at: datetime = Field(default_factory=_now)
    #: When a later submission left the file out (移除); the bytes stay for the audit, the target no longer lists it.
    removed_at: datetime | None = None
    removed_by: str | None = Field(default=None, max_length=100)


class LoginThrottle(SQLModel, table=True):
    """Failed logins counted per client address (``client:…``) and per login name (``name:…``, known or not)."""

    key: str = Field(primary_key=True, max_length=200)
    failures: int = 0
    #: Until when this client's attempts are refused, or this name's wrong passwords answered 429.
    locked_until: datetime | None = None
    last_at: datetime | None = Field(default=None, index=True)


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement of the chain head (Ed25519): its length, last hash, time and replayed-state digest.

    Copies live outside the database too (a file, the auditors' inboxes); ``at`` is kept as the
    exact text that was signed.
    """

    id: int | None = Field(default=None, primary_key=True)
    length: int
    last_hash: str = Field(max_length=64)
    at: str = Field(max_length=40)
    state_digest: str = Field(max_length=64)
    signature: str = Field(max_length=128)
    key_fingerprint: str = Field(max_length=40)
    reason: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=_now)
    #: The chain it signs (the organisation's id, 0: the deployment chain).
    org_id: int = Field(default=0)
    #: The fingerprint of the deployment's checkpoint before it (all chains, in order): the chain of
    #: checkpoints that ties the organisations' chains together. None on checkpoints older than it.
    prev: str | None = Field(default=None, max_length=64)


class CalendarDay(SQLModel, table=True):
    """A day whose official status the office entered (国务院办公厅放假通知): a holiday, or a make-up working day.

    Overrides what the calendar package says, and is all there is for years it does not cover.
    """

    id: int | None = Field(default=None, primary_key=True)
    day: date = Field(unique=True)
    kind: str = Field(max_length=10)  # holiday | workday
    name: str = Field(default="", max_length=60)  # 国庆节, 国庆节调休 …
    set_by: str = Field(max_length=100)
    set_at: datetime = Field(default_factory=_now)


class Circular(SQLModel, table=True):
    """The office's monthly circular (通报) of a plan: drafted, reviewed, then published and never changed."""

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE")
    period: str = Field(max_length=7)  # 2024-06
    status: str = Field(default="draft", max_length=20)  # draft | published
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: The office's internal remarks (内部意见): never in the public version.
    comment: str = Field(default="", sa_column_kwargs={"server_default": ""})
    #: SHA-256 of the published content, as the audit record states it.
    digest: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    created_at: datetime = Field(default_factory=_now)
    published_at: datetime | None = None
    published_by: str | None = Field(default=None, max_length=100)

    __table_args__ = (UniqueConstraint("plan_id", "period", name="uq_circular_plan_period"),)
