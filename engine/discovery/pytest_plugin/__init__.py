"""Holds the pytest plugin that discovery loads into the project's own pytest process."""
