"""Tests of engine.schedule."""
