"""English plain-text mail templates, one per template id.

Rendering is strict: a missing field is a `TemplateError`, which fails that
one delivery (recorded as `render_failed`) and never the worker.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class TemplateError(Exception):
    """The template is unknown or its data does not fill it."""


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    body: str


TEMPLATES: Mapping[str, Template] = {
    "auth.login_code": Template(
        subject="Your Galaxy login code: {code}",
        body=(
            "Your Galaxy login code is {code}\n\n"
            "It expires in {ttl_minutes} minutes and works once. If you did not ask for it,\n"
            "ignore this message: nobody can sign in without the code.\n"
        ),
    ),
    "lobby.invite.received": Template(
        subject="You are invited to a Galaxy game",
        body="You have been invited to game {game_id}. Open Galaxy to accept or decline.\n",
    ),
    "lobby.application.approved": Template(
        subject="Your application was approved",
        body="Your application to game {game_id} was approved. Good luck, commander.\n",
    ),
    "lobby.application.rejected": Template(
        subject="Your application was not accepted",
        body="Your application to game {game_id} was not accepted.\n",
    ),
    "lobby.membership.removed": Template(
        subject="You left a Galaxy game",
        body="Your membership in game {game_id} ended: {reason}.\n",
    ),
    "lobby.membership.blocked": Template(
        subject="You were blocked from a Galaxy game",
        body="You can no longer take part in game {game_id}.\n",
    ),
    "lobby.race_name.pending": Template(
        subject="Register your race name {race_name}",
        body=(
            "Your race {race_name} earned a permanent name. Register it in Galaxy before\n"
            "{expires_at}, or it becomes free for others.\n"
        ),
    ),
    "game.finished": Template(
        subject="Your Galaxy game is over",
        body=(
            "Game {game_id} ended after turn {turn}: {result}.\n"
            "Its reports and your diplomatic mail stay readable in Galaxy.\n"
        ),
    ),
    "runtime.image_pull_failed": Template(
        subject="[galaxy] engine image pull failed for game {game_id}",
        body="The engine image {image_ref} could not be pulled for game {game_id}.\n",
    ),
    "runtime.container_start_failed": Template(
        subject="[galaxy] engine container failed to start for game {game_id}",
        body="The engine container of game {game_id} failed to start. See the runtime log.\n",
    ),
    "game.paused": Template(
        subject="[galaxy] game {game_id} paused at turn {turn}: {reason}",
        body=(
            "Game {game_id} was paused at turn {turn} ({reason}).\n"
            "Restart its engine (POST /api/v1/admin/runtimes/{game_id}/restart) or\n"
            "patch it to a fixed engine version; see the runbook.\n"
        ),
    ),
    "runtime.start_config_invalid": Template(
        subject="[galaxy] invalid start configuration for game {game_id}",
        body="Game {game_id} could not start: {reason}.\n",
    ),
}

_FORMATTER = string.Formatter()


def render(template_id: str, data: Mapping[str, Any]) -> RenderedMail:
    template = TEMPLATES.get(template_id)
    if template is None:
        raise TemplateError(f"no template {template_id!r}")
    try:
        return RenderedMail(
            subject=_FORMATTER.vformat(template.subject, (), dict(data)),
            body=_FORMATTER.vformat(template.body, (), dict(data)),
        )
    except (KeyError, IndexError, ValueError) as error:
        raise TemplateError(f"{template_id}: cannot fill {error}") from None


def fields_of(template_id: str) -> set[str]:
    """The fields a template needs, so producers can be checked at enqueue time."""
    template = TEMPLATES[template_id]
    return {
        name
        for text in (template.subject, template.body)
        for _, name, _, _ in _FORMATTER.parse(text)
        if name
    }
