"""Tests of engine.bpmn."""
