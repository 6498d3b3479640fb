"""Drover's dashboard: server-rendered page shells plus one small script of our own.

Every page is the same accessible shell (navigation, a heading, a live region) that names the
page and its subject; ``static/dashboard.js`` fills it from the public ``/api/v1`` only, signed
in by the browser-session cookie (``api.browser_session``). Nothing is built with npm and
nothing comes from a CDN, so the dashboard works offline and ships inside the Python package.
The one thing rendered here from data is an execution's spec as YAML, for reading and download.
"""

from __future__ import annotations

from api.dashboard.routes import mount_dashboard

__all__ = ["mount_dashboard"]
