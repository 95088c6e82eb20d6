"""A plan's reporting rhythm (报送节奏): the report schedule every imported plan starts with."""
from __future__ import annotations

from sqlmodel import Session, select

from engine.store.models import ReportSchedule

#: The reporting rhythm of seed 001, created with every imported plan (plan data, editable).
DEFAULT_SCHEDULE = (
    ("monthly", "月度工作进展", "每月25日前", 10),
    ("special_march", "专项工作报告（3月）", "3月25日前", 10),
    ("half_year", "半年工作总结", "6月25日前", 15),
    ("special_september", "专项工作报告（9月）", "9月25日前", 10),
    ("annual", "年度工作总结", "12月中旬", 20),
)


def add_default_schedule(session: Session, plan_id: int) -> None:
    """Give a plan the default report schedule, keeping entries it has already; flushes."""
    existing = set(session.exec(select(ReportSchedule.key).where(ReportSchedule.plan_id == plan_id)))
    for key, label, phrase, lead in DEFAULT_SCHEDULE:
        if key not in existing:
            session.add(ReportSchedule(plan_id=plan_id, key=key, label=label, phrase=phrase, lead_days=lead))
    session.flush()
