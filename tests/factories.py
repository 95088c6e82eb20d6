"""Factories for the domain objects tests need."""
from __future__ import annotations

from datetime import date
from itertools import count

from sqlmodel import Session, select

from engine.audit import ledger
from engine.workflow import targets
from engine.people import organisations
from engine.people.actors import Actor
from engine.store.models import Milestone, Plan, Section, User, UserSection

_codes = count(1)

STAFF = Actor("洪玮玮", frozenset({"staff"}), frozenset({"规划科"}))
OTHER_STAFF = Actor("陈华森", frozenset({"staff"}), frozenset({"思政科"}))
LEADER = Actor("林长华", frozenset({"leader"}))
LEADER_2 = Actor("李自坚", frozenset({"leader"}))
LEADER_3 = Actor("庄映峰", frozenset({"leader"}))
OTHER_LEADER = Actor("徐昌裕", frozenset({"leader"}))
OFFICE = Actor("绩效办", frozenset({"office"}))
AUDITOR = Actor("审计员", frozenset({"auditor"}))
ADMIN = Actor("管理员", frozenset({"admin"}))


def plan(session: Session, *, year: int = 2024) -> Plan:
    """A plan with the seed's milestones (self-assessments signed by 30 Dec; evaluation early Jan)."""
    found = session.exec(select(Plan).where(Plan.org == "泉州市教育局", Plan.year == year)).first()
    if found:
        return found
    organisation, _ = organisations.for_plan(session, "泉州市教育局")
    p = Plan(org_id=organisation.id, org="泉州市教育局", year=year, title=f"{year}年度绩效目标考评表")
    session.add(p)
    session.flush()
    session.add(Milestone(plan_id=p.id, key="self_assessment_signed", label="自评结果经分管领导审签后报送",
                          phrase="12月30日前", due_date=date(year, 12, 30)))
    session.add(Milestone(plan_id=p.id, key="evaluation", label="绩效办综合评估", phrase="1月上旬",
                          due_date=date(year + 1, 1, 10)))
    session.flush()
    ledger.milestones_set(session, p.id, {"self_assessment_signed": date(year, 12, 30),
                                          "evaluation": date(year + 1, 1, 10)}, actor="管理员", role="admin")
    return p


def target(session: Session, *, leaders=("林长华",), sections=("规划科",), persons=("洪玮玮",), weight=2,
           due_date=date(2024, 12, 31), commit=True, **fields):
    """A target of the 2024 plan in ``assigned``; committed unless ``commit=False``."""
    p = plan(session)
    t = targets.create(session=session, plan_id=p.id, code=fields.pop("code", f"T-{next(_codes)}"),
                       text=fields.pop("text", "按年度计划组织实施学位扩容工程"), weight=weight,
                       sections=sections, leaders=leaders, persons=persons, due_date=due_date,
                       deadline_phrase=fields.pop("deadline_phrase", "12月底前"), **fields)
    if commit:
        session.commit()
    return t


def user(session: Session, name: str, roles: list[str], sections: list[str] = ()) -> User:
    organisation = organisations.default(session)
    u = User(org_id=organisation.id, name=name, login=name, roles=roles)
    session.add(u)
    session.flush()
    for section_name in sections:
        section = session.exec(select(Section).where(Section.org_id == organisation.id,
                                                     Section.name == section_name)).first()
        if section is None:
            section = Section(org_id=organisation.id, name=section_name)
            session.add(section)
            session.flush()
        session.add(UserSection(user_id=u.id, section_id=section.id))
    session.flush()
    return u


def organisation(session: Session, name: str, *, parent: str | None = None, kind: str = "bureau"):
    """An organisation (the one of that name if it exists) under ``parent``; flushes."""
    from engine.store.models import Organisation

    found = session.exec(select(Organisation).where(Organisation.name == name)).first()
    return found or organisations.add(session=session, name=name, parent=parent, kind=kind)


def plan_of(session: Session, org: str, *, year: int = 2024) -> Plan:
    """A plan of organisation ``org`` (created if need be) for ``year``, with the seed's milestones; flushes."""
    from engine.store.models import Organisation

    owner = session.exec(select(Organisation).where(Organisation.name == org)).one()
    found = session.exec(select(Plan).where(Plan.org_id == owner.id, Plan.year == year)).first()
    if found:
        return found
    p = Plan(org_id=owner.id, org=org, year=year, title=f"{org}{year}年度绩效目标考评表")
    session.add(p)
    session.flush()
    milestones = {"self_assessment_signed": date(year, 12, 30), "evaluation": date(year + 1, 1, 10)}
    for key, due in milestones.items():
        session.add(Milestone(plan_id=p.id, key=key, label=key, phrase="", due_date=due))
    session.flush()
    ledger.milestones_set(session, p.id, milestones, actor="管理员", role="admin")
    return p


def target_of(session: Session, org: str, *, code: str, sections=("规划科",), leaders=("林长华",),
              persons=("洪玮玮",), text: str = "按年度计划组织实施学位扩容工程", **fields):
    """A target of ``org``'s 2024 plan in ``assigned``; flushes."""
    p = plan_of(session, org)
    return targets.create(session=session, plan_id=p.id, code=code, text=text, weight=fields.pop("weight", 2),
                          sections=sections, leaders=leaders, persons=persons,
                          due_date=fields.pop("due_date", date(2024, 12, 31)), deadline_phrase="12月底前", **fields)


def member(session: Session, org: str, name: str, roles: list[str], sections: list[str] = (), *,
           password_hash: str | None = None, login: str | None = None) -> User:
    """A person of organisation ``org`` added as the admin adds them (audited); flushes."""
    from engine.people import users
    from engine.plans import staffing

    u = users.add(session=session, name=name, roles=roles, sections=sections, org=org, login=login)
    u.password_hash = password_hash
    staffing.record_added(session, u, sections, by=Actor.system())
    session.flush()
    return u
