"""The roles a user may hold, with their Chinese labels, and the system's own role."""
from __future__ import annotations

ROLES = {"staff": "科室", "leader": "分管领导", "office": "绩效办", "auditor": "审计", "admin": "管理员"}
#: Roles that may fire transitions; the auditor only reads, the admin manages users and plans.
ACTING_ROLES = ("staff", "leader", "office")
#: The role of the scheduler's own actions (escalation, reminders).
SYSTEM_ROLE = "system"

#: What the audit shows for the admin's and a person's own changes of people (engine.plans.staffing).
PEOPLE_ACTIONS = {"user_add": "新增用户", "user_update": "修改用户", "user_disable": "停用用户", "user_enable": "启用用户",
                  "password_reset": "重置密码", "password_change": "修改本人密码", "section_add": "新增科室",
                  "add_organisation": "新增组织", "rename_organisation": "组织更名"}
