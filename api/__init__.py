"""Drover's service: the FastAPI facade, the Postgres mirror and queue mode.

``api.app.create_app`` builds the app; ``api.runs.start_run`` is the one path that starts runs.
"""
