"""Drover's service: the FastAPI facade, the Postgres mirror and queue mode.

``api.app.create_app`` builds the app; ``api.runs.control.start_run`` is the one path that
starts runs. One package per concern, with no import circle (tests/api/test_api_layout.py):

- ``api.runs``: runs of executions — starting and controlling them (``control``), their plans,
  results, progress, views, queries and reports;
- ``api.pipelines``: runs of pipelines;
- ``api.schedules``: the local scheduler, and the runs Argo's CronWorkflows start;
- ``api.mirror``: following the workflows of both kinds of run into Postgres, in one loop
  (``api.mirror.loop``), with the transition rules it applies;
- ``api.routes``: the HTTP routes, thin; ``api.notifications``: the outbox and its channels;
- at the top: the app, settings, database, models, schemas, dependencies and the service.
"""
