"""Users, sections, roles, log-in and sessions, actors with their scope, and the in-app inbox.

Imports engine.store and engine.calendar.
"""
