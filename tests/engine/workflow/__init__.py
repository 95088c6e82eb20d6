"""Tests of engine.workflow."""
