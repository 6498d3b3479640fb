"""Notifications: run events written to an outbox with the transitions that cause them
(``outbox``), subscriptions (``subscriptions``), and a delivery worker (``worker``) that sends
them through ``senders`` with retries, a rate limit and a circuit breaker per destination."""
