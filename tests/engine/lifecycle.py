"""Driving targets through ``target.yaml`` with valid payloads, for tests and benchmarks."""
from __future__ import annotations

from engine.people.actors import Actor
from engine.workflow.commands import fire

PAYLOADS = {
    "start": ({}, ""),
    "report_progress": ({"note": "已完成年度计划的一半", "percent": 50}, ""),
    "self_assess": ({"self_score": 1.5, "summary": "全年目标基本完成"}, ""),
    "sign": ({}, ""),
    "return": ({}, "自评材料不全，请补充佐证"),
    "verify": ({}, ""),
    "send_back": ({}, "佐证材料与目标不符"),
    "score": ({"score": 1.8, "deductions": [{"points": 0.2, "reason": "进度滞后一个月"}]}, ""),
    "reopen": ({}, "复核发现计分有误"),
    "allow_self_assess": ({"reason": "下级单位数据另行报送"}, ""),
}

#: The triggers (and who fires them) that bring a fresh target to each state.
PATHS = {
    "assigned": [],
    "in_progress": ["start"],
    "self_assessed": ["start", "self_assess"],
    "leader_signed": ["start", "self_assess", "sign"],
    "verified": ["start", "self_assess", "sign", "verify"],
    "scored": ["start", "self_assess", "sign", "verify", "score"],
}


def step(session, target_id: int, trigger: str, actor: Actor, **overrides):
    payload, comment = PAYLOADS[trigger]
    return fire(session=session, target_id=target_id, trigger=trigger, actor=actor,
                payload=overrides.pop("payload", payload), comment=overrides.pop("comment", comment), **overrides)


def drive(session, target_id: int, state: str, *, staff: Actor, leaders: list[Actor], office: Actor) -> None:
    """Fire the triggers that take a fresh target to ``state`` (every leader signs)."""
    for trigger in PATHS[state]:
        if trigger == "sign":
            for leader in leaders:
                step(session, target_id, "sign", leader)
        else:
            step(session, target_id, trigger, {"start": staff, "self_assess": staff}.get(trigger, office))
