"""The core workers: the application's long-lived actors under `root/core`.

Each is a thin actor around a service (`galaxy/services/`): the mail outbox's
workers, the notification router, the lobby sweeper, the geo and last-seen
flushers, the translator, the push hub's evictor and the runtime reconciler.
They depend on services and the kernel (`galaxy/actors/`); the kernel knows
nothing of them.
"""
