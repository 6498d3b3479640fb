"""Schedules: the local scheduler and the runs Argo CronWorkflows start."""
