"""``kaoping demo``: a ready demo database on an embedded SQLite file."""
from __future__ import annotations

from datetime import date

from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select

from engine import audit, schema
from engine.actors import Actor
from engine.commands import fire
from engine.config import settings
from engine.db import make_engine
from engine.models import Milestone, Plan, Target
from engine.targets import create, parties_of

# Three rows of the 2024 plan (泉州市教育局2024年度绩效目标考评表), as a first sample.
SAMPLE = [
    ("1-1-1", "按年度计划组织实施“1+3”学位扩容工程，全市计划竣工投用中小学项目19个、新增中小学学位2.5万个。", 2,
     "12月底前", date(2024, 12, 31), ["规划科"], ["林长华"], ["洪玮玮"]),
    ("1-2-1", "召开全市教育大会。按照2024泉州市教育系统下沉服务清单9个项目指导学校开展活动40场以上。", 2,
     "11月底前", date(2024, 11, 30), ["办公室", "组织科"], ["李自坚", "庄映峰"], ["黄洺鋆", "王毅樟"]),
    ("1-4-1", "开展学校党建示范创建和质量创优工作，遴选第四批教育“领航团队”30名并开展培训。", 2,
     "10月底前", date(2024, 10, 31), ["组织科"], ["庄映峰"], ["王毅樟"]),
]


def run(console: Console) -> None:
    """Set up the demo database, load the sample and walk one target a few steps; print it all."""
    schema.upgrade()
    bind = make_engine()
    with Session(bind, expire_on_commit=False) as session:
        plan = session.exec(select(Plan).where(Plan.org == "泉州市教育局", Plan.year == 2024)).first()
        if plan is None:
            plan = Plan(org="泉州市教育局", year=2024, title="泉州市教育局2024年度绩效目标考评表")
            session.add(plan)
            session.flush()
            session.add(Milestone(plan_id=plan.id, key="self_assessment_signed", label="自评结果经分管领导审签后报送",
                                  phrase="12月30日前", due_date=date(2024, 12, 30)))
            session.add(Milestone(plan_id=plan.id, key="evaluation", label="绩效办综合评估", phrase="1月上旬",
                                  due_date=date(2025, 1, 10)))
            for code, text, weight, phrase, due, sections, leaders, persons in SAMPLE:
                create(session=session, plan_id=plan.id, code=code, text=text, weight=weight, deadline_phrase=phrase,
                       due_date=due, sections=sections, leaders=leaders, persons=persons)
            session.commit()
            first = session.exec(select(Target).where(Target.code == "1-2-1")).one()
            staff = Actor("黄洺鋆", frozenset({"staff"}), frozenset({"办公室"}))
            fire(session=session, target_id=first.id, trigger="start", actor=staff)
            fire(session=session, target_id=first.id, trigger="self_assess", actor=staff,
                 payload={"self_score": 2, "summary": "全市教育大会已召开，下沉服务活动开展42场。"})
            fire(session=session, target_id=first.id, trigger="sign", actor=Actor("李自坚", frozenset({"leader"})))
        _print(console, session, plan)
        check = audit.verify(session)
    bind.dispose()
    console.print(f"数据库：{settings().database_url}")
    console.print(f"审计链：{'完整' if check.ok else '校验失败'}，共 {check.count} 条记录")


def _print(console: Console, session: Session, plan: Plan) -> None:
    from engine.definitions import get

    definition = get("target")
    table = Table(title=plan.title)
    for column in ("编号", "年度目标", "权重", "完成时限", "分管领导", "责任科室", "状态", "版本"):
        table.add_column(column)
    for target in session.exec(select(Target).where(Target.plan_id == plan.id).order_by(Target.code)):
        parties = parties_of(session, target.id)
        table.add_row(target.code, target.text[:24] + "…", str(target.weight), target.deadline_phrase,
                      "、".join(parties.leaders), "、".join(parties.sections),
                      definition.state_label(target.state), str(target.version))
    console.print(table)
