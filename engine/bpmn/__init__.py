"""BPMN 2.0 in and out: reading a process into a definition, writing a definition as a process.

Imports engine.workflow and the wings below it.
"""
