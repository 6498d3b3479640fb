"""Runs of executions: starting and controlling them, their plans, results, progress, views."""
