"""Tests of engine.scoring."""
