"""The demo: the shipped 2024 plan and one user per person it names (created only by ``kaoping demo``)."""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sqlmodel import Session, select

from engine.plans import assignment, handdown, importer, staffing, table as planfile, service as plans
from engine.people import organisations, users
from engine.people.actors import Actor, actor_of
from engine.calendar import clock
from engine.store.models import Assignment, Organisation, Plan, Setting, Target, User
from engine.workflow.targets import parties_of

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


#: The district bureaus of the demo's second level (kind county), by their short names for logins.
DISTRICTS = {"泉港区教育局": "泉港区", "丰泽区教育局": "丰泽区"}
#: The shipped plan names no district in its 责任科室 column, so the city's office hands these targets down
#: itself: 1-5-1 (普及普惠县、优质均衡县创建), 1-6-1 (控辍保学、初中新优校培育), 1-12-1 (县（市、区）教育经费专项督导).
HANDED_DOWN = ("1-5-1", "1-6-1", "1-12-1")
#: Each district's demo people: (name, login suffix, role, section); the login is the district's short name
#: followed by the suffix (泉港区绩效办), unique in the deployment; names are unique within a district.
DISTRICT_PEOPLE = (("绩效办", "绩效办", "office", None), ("分管局长", "分管局长", "leader", None),
                   ("基教股经办人", "基教股", "staff", "基教股"))


@dataclass
class DemoState:
    plan: Plan
    imported: bool
    users_added: int
    #: Each district's logins: name → (login, role, section).
    districts: dict[str, list[tuple[str, str, str]]] | None = None


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
    existing = set(session.exec(select(User.name).where(User.org_id == plan.org_id)))
    wanted = {name: ([role], sorted(sections)) for name, (role, sections) in people(session, plan.id).items()}
    wanted.update({name: (roles, []) for name, roles in STAFF_USERS.items()})
    added = 0
    for name, (roles, sections) in wanted.items():
        if name not in existing:
            user = users.add(session=session, name=name, roles=roles, sections=sections, password=DEMO_PASSWORD)
            staffing.record_added(session, user, sections, by=SETUP_ACTOR)
            added += 1
    session.commit()
    added += _districts(session, plan)
    return DemoState(plan, imported, added, districts=district_logins())


def district_logins() -> dict[str, list[tuple[str, str, str]]]:
    """Who logs in at the district level: district → [(login, role, section)]."""
    return {district: [(f"{short}{suffix}", role, section or "") for _, suffix, role, section in DISTRICT_PEOPLE]
            for district, short in DISTRICTS.items()}


def _districts(session: Session, plan: Plan) -> int:
    """The second level: the districts, their people, the targets handed down to them, assigned there."""
    city = session.get(Organisation, plan.org_id)
    known = {o.name for o in organisations.children(session, city)}
    for district in DISTRICTS:
        if district not in known:
            staffing.add_organisation(session=session, by=SETUP_ACTOR, name=district, parent=city.name, kind="county")
    logins = set(session.exec(select(User.login)))
    added = 0
    for district, short in DISTRICTS.items():
        for name, suffix, role, section in DISTRICT_PEOPLE:
            if f"{short}{suffix}" not in logins:
                user = users.add(session=session, name=name, roles=[role], sections=[section] if section else [],
                                 password=DEMO_PASSWORD, org=district, login=f"{short}{suffix}")
                staffing.record_added(session, user, [section] if section else [], by=SETUP_ACTOR)
                added += 1
    session.commit()
    office = Actor("绩效办", frozenset({"office"}), org_id=city.id)
    for code in HANDED_DOWN:
        parent = session.exec(select(Target).where(Target.plan_id == plan.id, Target.code == code)).one()
        handdown.hand_down(session=session, target_id=parent.id, actor=office, to=list(DISTRICTS))
    for district, short in DISTRICTS.items():
        district_office = actor_of(session, session.exec(select(User).where(User.login == f"{short}绩效办")).one())
        for child in session.exec(select(Target).where(Target.org_id == district_office.org_id,
                                                       Target.parent_id.is_not(None))).all():
            if not parties_of(session, child.id).sections:
                assignment.assign(session=session, target_id=child.id, actor=district_office, sections=["基教股"],
                                  leaders=["分管局长"], persons=["基教股经办人"])
    return added
