"""Workflow definitions, the shared machines, guards and effects, the one door ``fire``, targets, evidence, outbox.

Imports engine.audit, engine.people, engine.store and engine.calendar.
"""
