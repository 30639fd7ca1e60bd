"""The kernel's own failures.

The kernel knows nothing of HTTP or gRPC: what these mean to a client is the
application's to say, once (`galaxy.domain.errors.KERNEL_ERRORS`, keyed by
`reason`). Each error carries a stable `reason` so that the application can
name its status without importing the kernel into the domain.
"""

from __future__ import annotations

from typing import ClassVar


class ActorError(Exception):
    """A failure of the actor machinery itself, not of what an actor was asked to do."""

    reason: ClassVar[str] = "actor_error"


class ActorBusy(ActorError):
    """An actor's mailbox is full and its overflow policy rejects new messages."""

    reason = "busy"


class ActorStopped(ActorError):
    """The actor is stopped (or stopping) and takes no more messages."""

    reason = "stopped"


class AskTimeout(ActorError):
    """An actor did not answer an ask within its timeout."""

    reason = "timeout"


class ActorCrashed(ActorError):
    """The actor failed while handling the message; the supervisor restarts it."""

    reason = "crashed"


class NoSuchActor(ActorError):
    """No actor (or no running supervisor) goes by that name."""

    reason = "no_such_actor"


class NameTaken(ActorError):
    """An actor of that name is already running elsewhere in the tree."""

    reason = "name_taken"


class NotAccepting(ActorError):
    """The supervisor is stopping (or not yet running) and starts no more children."""

    reason = "not_accepting"


# Failures of the kernel that a periodic tick waits out rather than crashing on:
# the actor it told is busy or stopping, which the next tick may find otherwise.
TRANSIENT: tuple[type[Exception], ...] = (ActorBusy, ActorStopped)
