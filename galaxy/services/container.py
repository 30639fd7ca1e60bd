"""The services the edges may call, built once by galaxy.app."""

from __future__ import annotations

from dataclasses import dataclass

from galaxy.actors import ActorSystem
from galaxy.config import Config
from galaxy.services.accounts import Accounts
from galaxy.services.admin_auth import AdminAuthenticator
from galaxy.services.auth import Auth
from galaxy.services.diplomail import Diplomail
from galaxy.services.geo import Geo
from galaxy.services.lobby import Enrollment, Games, LobbyEvents
from galaxy.services.mail import MailOutbox
from galaxy.services.notifications import Notifier
from galaxy.services.push import PushHub
from galaxy.services.race_names import RaceNames
from galaxy.services.readiness import Readiness
from galaxy.services.runtime.service import Runtime
from galaxy.services.runtime.versions import EngineVersions
from galaxy.services.sessions import Sessions
from galaxy.store.database import Database
from galaxy.telemetry import Telemetry


@dataclass(frozen=True)
class Services:
    config: Config
    db: Database
    actors: ActorSystem
    readiness: Readiness
    admin_auth: AdminAuthenticator
    push: PushHub
    mail: MailOutbox
    notifier: Notifier
    sessions: Sessions
    accounts: Accounts
    auth: Auth
    games: Games
    enrollment: Enrollment
    lobby_events: LobbyEvents
    race_names: RaceNames
    runtime: Runtime
    engine_versions: EngineVersions
    geo: Geo
    diplomail: Diplomail
    telemetry: Telemetry
