"""Messages people can act on: the link and the due date are added only where there is a target."""
from __future__ import annotations

from notifications import messages


def test_the_link_and_the_due_date_go_above_the_signature():
    _, body = messages.render("target.sign", {"code": "1-1-1", "actor": "林长华", "to_label": "领导已审签", "text": "x"},
                              "绩效办", link="https://kaoping.example.gov.cn/targets/1", due="2024-12-30")
    assert body.index("本阶段期限：2024-12-30") < body.index("查看和办理：https://kaoping.example.gov.cn/targets/1") \
        < body.index("—— 考评系统")


def test_a_message_without_a_target_is_unchanged():
    plain = messages.render("target.sign", {"code": "1-1-1", "actor": "林长华", "to_label": "领导已审签", "text": "x"}, "绩效办")
    assert "查看和办理" not in plain[1] and "本阶段期限" not in plain[1]
