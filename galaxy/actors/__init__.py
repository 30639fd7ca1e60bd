"""The actor kernel: mailboxes, refs, supervisors, the registry and inspection.

See docs/architecture.md for the tree this process builds from these parts.
"""

from galaxy.actors.actor import DEFAULT_ASK_TIMEOUT, Actor, Cell, Context, Ref, Runnable, Status
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
    "ActorSnapshot",
    "ActorSystem",
    "Cell",
    "ChildSpec",
    "ChildStartFailed",
    "Context",
    "Intensity",
    "Mailbox",
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
