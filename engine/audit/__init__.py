"""The hash chain of transition records: appending, reading and verifying the history.

Imports engine.store and engine.calendar.
"""
