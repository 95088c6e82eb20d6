"""Tests of engine.calendar."""
