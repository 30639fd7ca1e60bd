"""The services the edges and the core actors call, built once at start.

`build_services` wires them (who calls whom is decided here and only here);
`Services.warm` fills their caches before any edge listens.
"""

from __future__ import annotations

from dataclasses import dataclass

from galaxy import __version__
from galaxy.actors import ActorSystem
from galaxy.clients.containers import ContainerDriver
from galaxy.clients.geoip import open_lookup
from galaxy.clients.translator import Translator
from galaxy.config import Config
from galaxy.services.accounts import Accounts
from galaxy.services.admin_auth import AdminAuthenticator
from galaxy.services.auth import Auth
from galaxy.services.coherence import (
    ADMIN_ACCOUNTS,
    ENGINE_VERSIONS,
    ENTITLEMENTS,
    GAMES,
    RACE_NAMES,
    SESSIONS,
    Coherence,
)
from galaxy.services.diplomail import Diplomail
from galaxy.services.forwarding import Forwarding
from galaxy.services.geo import Geo
from galaxy.services.history import History
from galaxy.services.instances import Instances
from galaxy.services.lobby import Enrollment, Games, LobbyContext, LobbyEvents
from galaxy.services.mail import MailOutbox
from galaxy.services.notifications import Notifier
from galaxy.services.push import PushHub
from galaxy.services.push_relay import PushRelay
from galaxy.services.race_names import RaceNames
from galaxy.services.readiness import Readiness
from galaxy.services.reports import Reports
from galaxy.services.runtime.deps import RuntimeDeps, RuntimeSettings
from galaxy.services.runtime.ownership import Ownership
from galaxy.services.runtime.service import Runtime
from galaxy.services.runtime.versions import EngineVersions
from galaxy.services.sessions import Sessions
from galaxy.services.user_hooks import UserHooks
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
    push_relay: PushRelay
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
    reports: Reports
    engine_versions: EngineVersions
    geo: Geo
    diplomail: Diplomail
    instances: Instances
    forwarding: Forwarding
    coherence: Coherence
    telemetry: Telemetry
    history: History  # the console's last hour of this instance

    async def warm(self) -> None:
        """Fill the in-process caches from the store; the edges serve from them."""
        await self.admin_auth.warm()
        await self.sessions.warm()
        await self.accounts.warm()
        await self.race_names.warm()
        await self.lobby_events.ctx.warm()
        await self.engine_versions.warm()
        await self.engine_versions.ensure_default(__version__, f"galaxy-engine:{__version__}")

    async def aclose(self) -> None:
        """Close the outgoing clients the services hold (after the actors using them)."""
        await self.diplomail.aclose()
        await self.forwarding.aclose()
        self.geo.close()


def build_services(
    config: Config,
    db: Database,
    *,
    actors: ActorSystem,
    readiness: Readiness,
    push: PushHub,
    driver: ContainerDriver,
    games_supervisor: str,
    telemetry: Telemetry,
    run_id: str,
    history: History | None = None,
) -> Services:
    """Every service, wired to the ones it calls; nothing is read from the store yet."""
    history = history if history is not None else History()
    push.record_into(history)
    mail = MailOutbox(db, from_address=config.smtp.from_address, telemetry=telemetry)
    notifier = Notifier(db, admin_email=config.notification.admin_email, telemetry=telemetry)
    hooks = UserHooks(telemetry)
    hooks.on_deleted("notifications", notifier.on_user_deleted)
    geo = Geo(db, open_lookup(config.geo.db_path), telemetry=telemetry)
    hooks.on_deleted("geo", geo.on_user_deleted)
    push_relay = PushRelay(db, push, origin=config.instance.instance_id)
    push.relay_through(push_relay)
    sessions = Sessions(db, push)
    accounts = Accounts(db, sessions, hooks)
    auth = Auth(
        db,
        config.auth,
        mail=mail,
        accounts=accounts,
        sessions=sessions,
        geo=geo,
        telemetry=telemetry,
    )
    race_names = RaceNames(
        db, accounts, notifier, pending_ttl=config.lobby.pending_registration_ttl
    )
    lobby = LobbyContext(
        db, accounts, notifier, race_names, invite_ttl=config.lobby.invite_default_ttl
    )
    events = LobbyEvents(lobby)
    hooks.on_deleted("lobby", events.on_user_deleted)
    hooks.on_blocked("lobby", events.on_user_blocked)
    translator = (
        Translator(config.diplomail.translator_url, timeout=config.diplomail.translator_timeout)
        if config.diplomail.translator_url
        else None
    )
    versions = EngineVersions(db)
    admin_auth = AdminAuthenticator(db)
    coherence = Coherence(db, readiness)
    coherence.register(ADMIN_ACCOUNTS, admin_auth.reload, admin_auth.warm)
    coherence.register(SESSIONS, sessions.reload, sessions.warm)
    coherence.register(ENTITLEMENTS, accounts.reload, accounts.warm)
    coherence.register(RACE_NAMES, race_names.reload, race_names.rewarm)
    coherence.register(GAMES, lobby.reload, lobby.warm)
    coherence.register(ENGINE_VERSIONS, versions.reload, versions.warm)
    ownership = Ownership(db, config.instance, run_id=run_id)
    runtime = Runtime(
        RuntimeDeps(
            db=db,
            driver=driver,
            versions=versions,
            lobby=events,
            notifier=notifier,
            settings=RuntimeSettings(
                state_root=config.runtime.game_state_root,
                probe_interval=config.runtime.probe_interval,
                probe_failures=config.runtime.probe_failures,
                start_timeout=config.runtime.start_timeout,
                call_timeout=config.engine.call_timeout,
                probe_timeout=config.engine.probe_timeout,
                long_operations=config.runtime.worker_pool_size,
                mailbox=config.runtime.job_queue_size,
            ),
            telemetry=telemetry,
            ownership=ownership,
            history=history,
        ),
        actors,
        supervisor=games_supervisor,
    )
    return Services(
        config=config,
        db=db,
        actors=actors,
        readiness=readiness,
        admin_auth=admin_auth,
        push=push,
        push_relay=push_relay,
        mail=mail,
        notifier=notifier,
        sessions=sessions,
        accounts=accounts,
        auth=auth,
        games=Games(lobby, starter=runtime, versions=versions),
        enrollment=Enrollment(lobby),
        lobby_events=events,
        race_names=race_names,
        runtime=runtime,
        reports=Reports(lobby, runtime),
        engine_versions=versions,
        geo=geo,
        diplomail=Diplomail(lobby, config.diplomail, translator),
        instances=Instances(db, config.instance, run_id=run_id, snapshot=actors.snapshot),
        forwarding=Forwarding(
            db,
            ownership,
            instance_id=config.instance.instance_id,
            read_timeout=runtime.long_timeout + 5,  # the owner's longest operation, and a margin
            telemetry=telemetry,
        ),
        coherence=coherence,
        telemetry=telemetry,
        history=history,
    )
