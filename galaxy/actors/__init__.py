"""The actor kernel: mailboxes, refs, supervisors, the registry and inspection.

It imports nothing of the application (tests/test_layers.py holds it to that):
its errors, its backoff and what counts as an answer rather than a crash are
its own or given to it (`ActorSystem(answers=..., unavailable=...)`).

See docs/architecture.md for the tree this process builds from these parts.
"""

from galaxy.actors.actor import (
    DEFAULT_ASK_TIMEOUT,
    Actor,
    Ask,
    Cell,
    Context,
    Ref,
    Runnable,
    Status,
)
from galaxy.actors.backoff import Backoff
from galaxy.actors.errors import (
    ActorBusy,
    ActorCrashed,
    ActorError,
    ActorStopped,
    AskTimeout,
    NameTaken,
    NoSuchActor,
    NotAccepting,
)
from galaxy.actors.mailbox import Mailbox, Overflow
from galaxy.actors.snapshot import ActorSnapshot, render_tree
from galaxy.actors.supervisor import (
    ChildSpec,
    ChildStartFailed,
    Intensity,
    Restart,
    Strategy,
    Supervisor,
    SupervisorGaveUp,
)
from galaxy.actors.system import ActorSystem

__all__ = [
    "DEFAULT_ASK_TIMEOUT",
    "Actor",
    "ActorBusy",
    "ActorCrashed",
    "ActorError",
    "ActorSnapshot",
    "ActorStopped",
    "ActorSystem",
    "Ask",
    "AskTimeout",
    "Backoff",
    "Cell",
    "ChildSpec",
    "ChildStartFailed",
    "Context",
    "Intensity",
    "Mailbox",
    "NameTaken",
    "NoSuchActor",
    "NotAccepting",
    "Overflow",
    "Ref",
    "Restart",
    "Runnable",
    "Status",
    "Strategy",
    "Supervisor",
    "SupervisorGaveUp",
    "render_tree",
]
