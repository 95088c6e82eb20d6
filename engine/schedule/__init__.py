"""Scheduled work: escalation of overdue targets, reminders, recurring report items, job locks.

Imports engine.plans and the wings below it.
"""
