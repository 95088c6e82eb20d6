"""Tests of engine.audit."""
