"""Plans: the plan service, assessment-table import and export, indicators, the report rhythm, the demo.

Imports engine.workflow and the wings below it.
"""
