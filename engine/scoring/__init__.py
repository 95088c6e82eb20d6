"""Score sheets, grades, the evaluation report and the role dashboards.

Imports engine.schedule and the wings below it.
"""
