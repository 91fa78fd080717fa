"""Tests of the journeys: date rules, send window, loader, planner, commands."""
