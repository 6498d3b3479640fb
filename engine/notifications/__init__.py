"""Notifications, pure parts: run events, subscriptions, message shapes, signatures and the
delivery policy (backoff, rate limit, circuit breaker). ``api.notifications`` stores events in
an outbox and delivers them; nothing here does I/O.

Its modules are imported by name (``engine.notifications.events``, ``.subscription``,
``.messages``, ``.policy``, ``.signing``): the package itself loads nothing, so the command line
can offer ``event_types`` without the events' pydantic models."""
