"""The lobby: games and their enrollment, and what other areas tell it.

`games` creates, shows and moves games through the state machine of
`domain/lobby.py`; `enrollment` handles applications, invites and
memberships; `events` takes the other areas' news (a user blocked or
deleted, a runtime snapshot, a finished game) and the sweeper's rounds.
They share a `LobbyContext`: the database, the cache of live games and the
helpers every unit of work needs.
"""

from galaxy.services.lobby.context import LobbyContext
from galaxy.services.lobby.enrollment import Enrollment
from galaxy.services.lobby.events import LobbyEvents, RuntimeSnapshot
from galaxy.services.lobby.games import Games

__all__ = ["Enrollment", "Games", "LobbyContext", "LobbyEvents", "RuntimeSnapshot"]
