"""Joining games: applications, invites and memberships.

Every path to a seat (an approval, an automatic approval, a redeemed invite)
locks the game row first and counts the members after the lock, so two
players taking the last seat at once are serialised and exactly one gets it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import structlog

from galaxy.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from galaxy.domain.lobby import ENROLLING, Status, new_invite_code
from galaxy.services.lobby.context import LobbyContext
from galaxy.services.paging import Page, ReadPage, load_page
from galaxy.services.unit_of_work import AfterCommit, run_unit
from galaxy.store import lobby as store
from galaxy.store.database import Connection
from galaxy.store.lobby import ApplicationRow, GameRow, InviteRow, MembershipRow

log = structlog.get_logger("galaxy.lobby")

T = TypeVar("T")  # what a listing's page holds


@dataclass(frozen=True)
class Applied:
    """An application as it stands after a step, and the seat it gave (None: no seat yet,
    or none at all)."""

    application: ApplicationRow
    membership: MembershipRow | None


@dataclass(frozen=True)
class Answered:
    """An invite as it stands after its answer, and the seat a redeemed one gave."""

    invite: InviteRow
    membership: MembershipRow | None


def _enrolling(game: GameRow) -> None:
    if game.status not in ENROLLING:
        raise Conflict(
            f"the game is {game.status.replace('_', ' ')}, not enrolling",
            code=f"game_{game.status}",
        )


class Enrollment:
    def __init__(self, ctx: LobbyContext) -> None:
        self.ctx = ctx

    # -- seats ------------------------------------------------------------------------

    async def _seat(
        self,
        conn: Connection,
        after: AfterCommit,
        game: GameRow,
        user_id: uuid.UUID,
        race_name: str,
    ) -> MembershipRow:
        """Give `user_id` a seat in the locked `game` under `race_name`."""
        ctx = self.ctx
        await ctx.seat_free(conn, game)
        previous = await store.user_membership(conn, game.game_id, user_id)
        if previous is not None:
            if previous.status == "blocked":
                raise Forbidden("you are blocked from this game", code="blocked_from_game")
            raise Conflict("you have played in this game already", code="already_member")
        joined = await ctx.quota(conn, user_id, "max_active_memberships")
        if await store.count_user_active_memberships(conn, user_id) >= joined:
            raise Conflict(f"you may play {joined} games at once", code="quota_exceeded")
        await ctx.race_names.claim(conn, after, race_name, user_id, game.game_id)
        row = await store.insert_membership(conn, uuid.uuid4(), game.game_id, user_id, race_name)
        if row is None:
            raise Conflict("you have played in this game already", code="already_member")
        await ctx.refresh(conn, after, game.game_id)
        return row

    # -- applications ---------------------------------------------------------------

    async def apply(
        self, user_id: uuid.UUID, game_id: uuid.UUID, race_name: str, message: str
    ) -> Applied:
        """Apply to a public game; with auto_approve, a free seat is taken at once."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> Applied:
            await ctx.live_account(conn, user_id)
            await ctx.not_banned(conn, user_id)
            game = await ctx.game(conn, game_id, lock=True)
            await ctx.not_hidden(conn, game, user_id)
            if game.visibility != "public" and game.owner_user_id != user_id:
                raise Forbidden("a private game is joined by invitation", code="private_game")
            _enrolling(game)
            await ctx.race_names.check_available(conn, race_name, user_id)
            pending = await store.count_user_pending_applications(conn, user_id)
            allowed = await ctx.quota(conn, user_id, "max_pending_applications")
            if pending >= allowed:
                raise Conflict(
                    f"you may have {allowed} applications awaiting an answer",
                    code="quota_exceeded",
                )
            existing = await store.user_membership(conn, game_id, user_id)
            if existing is not None and existing.status == "blocked":
                raise Forbidden("you are blocked from this game", code="blocked_from_game")
            if existing is not None:
                raise Conflict("you have played in this game already", code="already_member")
            live = await store.live_application(conn, game_id, user_id)
            if live is not None:
                raise Conflict("you have applied to this game already", code="already_applied")
            application = await store.insert_application(
                conn, uuid.uuid4(), game_id, user_id, race_name, message
            )
            if game.auto_approve:
                membership = await self._seat(conn, after, game, user_id, race_name)
                approved = await store.decide_application(
                    conn, application.application_id, "approved", None
                )
                return Applied(approved, membership)
            await ctx.notify(
                conn,
                after,
                "lobby.application.submitted",
                f"application:{application.application_id}:submitted",
                {"game_id": str(game_id), "application_id": str(application.application_id)},
                [game.owner_user_id] if game.owner_user_id is not None else [],
            )
            return Applied(application, None)

        return await run_unit(ctx.db, work, name="lobby.apply")

    async def decide(
        self,
        owner: uuid.UUID,
        game_id: uuid.UUID,
        application_id: uuid.UUID,
        *,
        approve: bool,
        reason: str | None = None,
    ) -> Applied:
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> Applied:
            game = await ctx.game(conn, game_id, lock=True)
            await ctx.owner_only(conn, game, owner)
            application = await store.lock_application(conn, application_id, game_id)
            if application is None:
                raise NotFound("no such application", code="application_not_found")
            if application.status != "pending":
                raise Conflict(
                    f"the application is {application.status} already",
                    code=f"application_{application.status}",
                )
            membership = None
            if approve:
                _enrolling(game)
                membership = await self._seat(
                    conn, after, game, application.applicant_user_id, application.race_name
                )
            decided = await store.decide_application(
                conn, application_id, "approved" if approve else "rejected", reason
            )
            kind = "lobby.application.approved" if approve else "lobby.application.rejected"
            await ctx.notify(
                conn,
                after,
                kind,
                f"application:{application_id}:{decided.status}",
                {"game_id": str(game_id)},
                [application.applicant_user_id],
            )
            return Applied(decided, membership)

        return await run_unit(ctx.db, work, name="lobby.decide_application")

    async def rename_application(
        self, user_id: uuid.UUID, game_id: uuid.UUID, application_id: uuid.UUID, race_name: str
    ) -> ApplicationRow:
        """The applicant asks for another race name while the application is pending: the
        way out when someone else took the first one before the owner approved. The
        new name passes the checks of applying (no reservation until the seat is given:
        approval claims it, as it claims the first name)."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> ApplicationRow:
            await ctx.live_account(conn, user_id)
            game = await ctx.game(conn, game_id, lock=True)  # the game first, as everywhere
            await ctx.not_hidden(conn, game, user_id)
            application = await store.lock_application(conn, application_id, game_id)
            if application is None or application.applicant_user_id != user_id:
                # Another player's application is none of the caller's business.
                raise NotFound("no such application", code="application_not_found")
            if application.status != "pending":
                raise Conflict(
                    f"the application is {application.status} already",
                    code=f"application_{application.status}",
                )
            _enrolling(game)
            await ctx.race_names.check_available(conn, race_name, user_id)
            return await store.rename_application(conn, application_id, race_name)

        renamed = await run_unit(ctx.db, work, name="lobby.rename_application")
        log.info(
            "lobby.application_renamed",
            game_id=str(game_id),
            application_id=str(application_id),
        )
        return renamed

    async def applications_of(self, user_id: uuid.UUID, page: int) -> Page[ApplicationRow]:
        async def read(
            conn: Connection, limit: int, offset: int
        ) -> tuple[list[ApplicationRow], int]:
            return await store.user_applications(conn, user_id, limit=limit, offset=offset)

        return await self._page(read, page)

    # -- invites ------------------------------------------------------------------------

    async def invite(
        self,
        owner: uuid.UUID,
        game_id: uuid.UUID,
        invited: uuid.UUID | None,
        expires_at: datetime | None,
    ) -> InviteRow:
        """Invite a named player, or (`invited` None) whoever presents the new invite's code."""
        ctx = self.ctx
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise InvalidInput("expires_at must be in the future", code="invalid_time")

        async def work(conn: Connection, after: AfterCommit) -> InviteRow:
            game = await ctx.game(conn, game_id, lock=True)
            await ctx.owner_only(conn, game, owner)
            if game.status not in (Status.DRAFT, *ENROLLING):
                raise Conflict(
                    f"the game is {game.status.replace('_', ' ')}; invites are for drafts "
                    "and enrolling games",
                    code=f"game_{game.status}",
                )
            if invited is not None:
                if invited == owner:
                    raise InvalidInput("you cannot invite yourself", code="invalid_invitee")
                await ctx.live_account(conn, invited)
                if ctx.cache.membership(game_id, invited) is not None:
                    raise Conflict("that player has joined already", code="already_member")
            invite = await store.insert_invite(
                conn,
                uuid.uuid4(),
                game_id,
                inviter=owner,
                invited=invited,
                code=new_invite_code() if invited is None else None,
                expires_at=expires_at,
                default_ttl=ctx.invite_ttl,
            )
            if invited is None:
                return invite  # nobody to tell: the owner hands the code on
            await ctx.notify(
                conn,
                after,
                "lobby.invite.received",
                f"invite:{invite.invite_id}:received",
                {"game_id": str(game_id), "inviter_user_id": str(owner)},
                [invited],
            )
            return invite

        return await run_unit(ctx.db, work, name="lobby.invite")

    async def redeem_code(self, user_id: uuid.UUID, code: str, race_name: str) -> Answered:
        """Take a seat with a code invite: the first player to present it gets the seat,
        with the same rules as a named invite (enrolling game, free seat, not expired)."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> Answered | Conflict:
            found = await store.invite_by_code(conn, code)
            if found is None:
                raise NotFound("no invite has that code", code="invite_not_found")
            invite_id, game_id = found
            game = await ctx.game(conn, game_id, lock=True)  # the game first, as everywhere
            invite, expired = await self._locked_invite(conn, game_id, invite_id)
            return await self._redeem(conn, after, game, invite, expired, user_id, race_name)

        result = await run_unit(ctx.db, work, name="lobby.redeem_code")
        if isinstance(result, Conflict):
            raise result  # the expiry is recorded (committed), then refused
        return result

    async def _locked_invite(
        self, conn: Connection, game_id: uuid.UUID, invite_id: uuid.UUID
    ) -> tuple[InviteRow, bool]:
        found = await store.lock_invite(conn, invite_id, game_id)
        if found is None:
            raise NotFound("no such invite", code="invite_not_found")
        invite, expired = found
        if invite.status != "pending":
            raise Conflict(f"the invite is {invite.status}", code=f"invite_{invite.status}")
        return invite, expired

    async def answer(
        self,
        user_id: uuid.UUID,
        game_id: uuid.UUID,
        invite_id: uuid.UUID,
        *,
        race_name: str | None,
    ) -> Answered:
        """Redeem (with a race name) or decline (without) an invite sent to `user_id`."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> Answered | Conflict:
            game = await ctx.game(conn, game_id, lock=True)
            await ctx.not_hidden(conn, game, user_id)
            invite, expired = await self._locked_invite(conn, game_id, invite_id)
            if invite.invited_user_id != user_id:
                raise Forbidden("this invite is for another player", code="not_invitee")
            if race_name is None:
                return Answered(await _decide_invite(conn, invite, "declined"), None)
            return await self._redeem(conn, after, game, invite, expired, user_id, race_name)

        result = await run_unit(ctx.db, work, name="lobby.answer_invite")
        if isinstance(result, Conflict):
            raise result  # the expiry is recorded (committed), then refused
        return result

    async def _redeem(
        self,
        conn: Connection,
        after: AfterCommit,
        game: GameRow,
        invite: InviteRow,
        expired: bool,
        user_id: uuid.UUID,
        race_name: str,
    ) -> Answered | Conflict:
        """Seat `user_id` with a locked, pending invite (named or code); the invite then
        names who redeemed it. An expired one is recorded as such, then refused: the
        refusal is returned, not raised, so that the unit of work commits the expiry."""
        ctx = self.ctx
        if expired:
            await _decide_invite(conn, invite, "expired")
            return Conflict("the invite has expired", code="invite_expired")
        await ctx.live_account(conn, user_id)
        await ctx.not_banned(conn, user_id)
        _enrolling(game)
        membership = await self._seat(conn, after, game, user_id, race_name)
        redeemed = await _decide_invite(conn, invite, "redeemed", redeemer=user_id)
        return Answered(redeemed, membership)

    async def revoke(self, owner: uuid.UUID, game_id: uuid.UUID, invite_id: uuid.UUID) -> InviteRow:
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> InviteRow:
            game = await ctx.game(conn, game_id, lock=True)
            await ctx.owner_only(conn, game, owner)
            invite, _ = await self._locked_invite(conn, game_id, invite_id)
            revoked = await _decide_invite(conn, invite, "revoked")
            await ctx.notify(
                conn,
                after,
                "lobby.invite.revoked",
                f"invite:{invite_id}:revoked",
                {"game_id": str(game_id)},
                [invite.invited_user_id] if invite.invited_user_id is not None else [],
            )
            return revoked

        return await run_unit(ctx.db, work, name="lobby.revoke_invite")

    async def invites_of(self, user_id: uuid.UUID, page: int) -> Page[InviteRow]:
        async def read(conn: Connection, limit: int, offset: int) -> tuple[list[InviteRow], int]:
            return await store.user_invites(conn, user_id, limit=limit, offset=offset)

        return await self._page(read, page)

    # -- memberships --------------------------------------------------------------------

    async def memberships(
        self, viewer: uuid.UUID | None, game_id: uuid.UUID, page: int
    ) -> Page[MembershipRow]:
        """A game's members: for its owner and members, and for anyone on a public game."""
        ctx = self.ctx

        async def read(
            conn: Connection, limit: int, offset: int
        ) -> tuple[list[MembershipRow], int]:
            game = await ctx.game(conn, game_id)
            if viewer is not None and not (
                game.owner_user_id == viewer
                or ctx.cache.membership(game_id, viewer) is not None
                or (game.visibility == "public" and game.status != Status.DRAFT)
            ):
                raise NotFound("no such game", code="game_not_found")
            return await store.game_memberships_page(conn, game_id, limit=limit, offset=offset)

        return await load_page(ctx.db, page, read, name="lobby.memberships")

    async def end_membership(
        self,
        actor: uuid.UUID | None,
        game_id: uuid.UUID,
        *,
        membership_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        block: bool,
        reason: str,
    ) -> MembershipRow:
        """Remove or block a member. `actor` None is an operator; otherwise the owner,
        or the member themself leaving (remove only)."""
        ctx = self.ctx

        async def work(conn: Connection, after: AfterCommit) -> MembershipRow:
            game = await ctx.game(conn, game_id, lock=True)
            member = await self._locked_member(conn, game_id, membership_id, user_id)
            leaving = actor is not None and actor == member.user_id and not block
            if actor is not None and not leaving:
                await ctx.owner_only(conn, game, actor)
            if member.status != "active":
                raise Conflict(
                    f"the membership is {member.status}", code=f"membership_{member.status}"
                )
            ended = await store.end_membership(
                conn, member.membership_id, "blocked" if block else "removed", reason
            )
            await ctx.race_names.release_member(conn, after, game_id, member)
            await ctx.refresh(conn, after, game_id)
            if not leaving:
                kind = "lobby.membership.blocked" if block else "lobby.membership.removed"
                payload = {"game_id": str(game_id)} | ({} if block else {"reason": reason})
                await ctx.notify(
                    conn,
                    after,
                    kind,
                    f"membership:{member.membership_id}:{ended.status}",
                    payload,
                    [member.user_id],
                )
            return ended

        return await run_unit(ctx.db, work, name="lobby.end_membership")

    async def _locked_member(
        self,
        conn: Connection,
        game_id: uuid.UUID,
        membership_id: uuid.UUID | None,
        user_id: uuid.UUID | None,
    ) -> MembershipRow:
        if membership_id is not None:
            found = await store.lock_membership(conn, membership_id, game_id)
        elif user_id is not None:
            found = await store.user_membership(conn, game_id, user_id)
        else:
            found = None
        if found is None:
            raise NotFound("no such membership", code="membership_not_found")
        return found

    async def _page(self, read: ReadPage[T], page: int) -> Page[T]:
        return await load_page(self.ctx.db, page, read, name="lobby.page")


async def _decide_invite(
    conn: Connection, invite: InviteRow, status: str, *, redeemer: uuid.UUID | None = None
) -> InviteRow:
    """Close an invite; a code invite's redeemer becomes its invited player."""
    return await store.decide_invite(conn, invite.invite_id, status, redeemer=redeemer)
