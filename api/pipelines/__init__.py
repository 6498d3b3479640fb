"""Runs of pipelines: starting and controlling them."""
