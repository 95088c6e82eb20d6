"""The roles a user may hold, with their Chinese labels, and the system's own role."""
from __future__ import annotations

ROLES = {"staff": "科室", "leader": "分管领导", "office": "绩效办", "auditor": "审计", "admin": "管理员"}
#: Roles that may fire transitions; the auditor only reads, the admin manages users and plans.
ACTING_ROLES = ("staff", "leader", "office")
#: The role of the scheduler's own actions (escalation, reminders).
SYSTEM_ROLE = "system"
