"""The HTML shell every dashboard page shares; the script renders the page named in it."""

from __future__ import annotations

from html import escape

__all__ = ["NAVIGATION", "render_shell"]

NAVIGATION = (("Runs", "/"), ("Executions", "/executions"), ("Pipelines", "/pipelines"))


def render_shell(page: str, title: str, **data: str) -> str:
    """A page named ``page`` (the script's entry point) about ``data`` (ids, query values)."""
    attributes = "".join(
        f' data-{escape(key.replace("_", "-"))}="{escape(value)}"' for key, value in data.items()
    )
    links = "".join(f'<li><a href="{href}">{escape(label)}</a></li>' for label, href in NAVIGATION)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Drover</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script type="module" src="/static/dashboard.js"></script>
</head>
<body data-page="{escape(page)}"{attributes}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">Drover</a>
<nav aria-label="Main"><ul>{links}</ul></nav>
<span id="who" class="who"></span>
</header>
<main id="main" tabindex="-1">
<h1 id="title">{escape(title)}</h1>
<div id="app" aria-busy="true"><p class="muted">Loading…</p></div>
</main>
<noscript><p>The dashboard needs JavaScript; the API is at <a href="/docs">/docs</a>.</p>
</noscript>
</body>
</html>
"""
