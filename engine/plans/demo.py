"""The demo: the shipped 2024 plan and one user per person it names (created only by ``kaoping demo``)."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sqlmodel import Session, select

from engine.plans import importer, staffing, table as planfile, service as plans
from engine.people import users
from engine.people.actors import Actor
from engine.calendar import clock
from engine.store.models import Assignment, Plan, Setting, Target, User

SHIPPED_PLAN = "quanzhou-edu-2024.xlsx"
#: The shipped plan is the bureau's 2024 plan; the demo serves it as this year's (its dates in the current year).
ORG, YEAR = "泉州市教育局", 2024
NOTE_KEY = "demo_note"
#: The demo users' password (documented in the README); a real deployment adds its own users.
DEMO_PASSWORD = "kaoping2024"
STAFF_USERS = {"绩效办": ["office"], "审计员": ["auditor"], "管理员": ["admin"]}
SETUP_ACTOR = Actor("演示初始化", frozenset({"admin"}))
#: The shipped table writes three sections short in one row (民管/中教/初幼教): the same sections.
ALIASES = {"民管": "民管科", "中教": "中教科", "初幼教": "初幼教科"}


@dataclass
class DemoState:
    plan: Plan
    imported: bool
    users_added: int


def shipped_plan() -> tuple[bytes, str]:
    """The shipped plan file's bytes and name."""
    return resources.files("workflows").joinpath("plans", SHIPPED_PLAN).read_bytes(), SHIPPED_PLAN


def people(session: Session, plan_id: int) -> dict[str, tuple[str, set[str]]]:
    """Each person and leader the plan names → (role, sections): a person belongs to the section
    written beside them (the table lines persons up with sections)."""
    found: dict[str, tuple[str, set[str]]] = {}
    rows = session.exec(select(Assignment).join(Target, Target.id == Assignment.target_id)
                        .where(Target.plan_id == plan_id).order_by(Assignment.target_id, Assignment.position))
    by_target: dict[int, dict[str, list[str]]] = {}
    for row in rows:
        by_target.setdefault(row.target_id, {"section": [], "leader": [], "person": []})[row.kind].append(row.name)
    unpaired: dict[str, set[str]] = {}
    for parties in by_target.values():
        for leader in parties["leader"]:
            found.setdefault(leader, ("leader", set()))
        sections, persons = parties["section"], parties["person"]
        for i, person in enumerate(persons):
            if len(sections) == len(persons):
                found.setdefault(person, ("staff", set()))[1].add(sections[i])
            else:  # 各科室 / 各科长 rows do not line up: use them only for someone named nowhere else
                unpaired.setdefault(person, set()).update(sections)
    for person, sections in unpaired.items():
        if person not in found:
            found[person] = ("staff", sections)
    return found


def note(year: int) -> str:
    """What the login page says about the demo's plan (its dates moved to ``year``)."""
    if year == YEAR:
        return f"演示数据：{ORG}{YEAR}年度绩效目标考评表，共 57 项目标。"
    return (f"演示数据：{ORG}{YEAR}年度绩效目标考评表（57 项目标）作为 {year} 年度计划提供，"
            f"完成时限与节点均已移到 {year} 年。")


def notice(session: Session) -> str:
    """The demo's note for the login page, or "" when this database is not the demo's."""
    kept = session.get(Setting, NOTE_KEY)
    return kept.value if kept else ""


def set_up(session: Session, *, year: int | None = None) -> DemoState:
    """Import the shipped plan as ``year``'s plan (this year's by default: deadlines and milestones fall in
    it, so a first look is not a year of overdue targets) and add the demo users, unless they are there already."""
    year = year or clock.today().year
    plan = session.exec(select(Plan).where(Plan.org == ORG, Plan.year == year)).first()
    imported = plan is None
    if imported:
        data, name = shipped_plan()
        draft = importer.parse(planfile.read(data, name), name, plan_year=year, org=ORG, aliases=ALIASES)
        draft.title = draft.title.replace(str(YEAR), str(year))
        result = plans.apply(session=session, draft=draft, actor=SETUP_ACTOR)
        plan = session.get(Plan, result.plan_id)
    kept = session.get(Setting, NOTE_KEY) or Setting(key=NOTE_KEY, value="")
    kept.value = note(year)
    session.add(kept)
    existing = set(session.exec(select(User.name)))
    wanted = {name: ([role], sorted(sections)) for name, (role, sections) in people(session, plan.id).items()}
    wanted.update({name: (roles, []) for name, roles in STAFF_USERS.items()})
    added = 0
    for name, (roles, sections) in wanted.items():
        if name not in existing:
            user = users.add(session=session, name=name, roles=roles, sections=sections, password=DEMO_PASSWORD)
            staffing.record_added(session, user, sections, by=SETUP_ACTOR)
            added += 1
    session.commit()
    return DemoState(plan, imported, added)
