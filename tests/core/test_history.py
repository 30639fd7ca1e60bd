"""The `console.history` actor on trio's MockClock: an interval every 10 s, mailboxes sampled."""

from __future__ import annotations

from dataclasses import dataclass

import trio
import trio.testing

from galaxy.actors import Actor, ActorSystem, ChildSpec, Intensity, Strategy, Supervisor
from galaxy.actors.actor import Ask
from galaxy.core.history import CloseNow, HistoryActor
from galaxy.services.history import History

EPOCH = 1_800_000_000.0


@dataclass(frozen=True)
class Wait(Ask[None]):
    """Held until the test releases it: the messages behind it stay in the mailbox."""

    release: trio.Event


class Slow(Actor[Wait]):
    kind = "slow"

    async def handle(self, message: Wait) -> None:
        await message.release.wait()


async def test_an_interval_closes_every_ten_seconds_with_the_mailbox_depths(
    autojump_clock: trio.testing.MockClock,
) -> None:
    history = History()
    system = ActorSystem()

    def root() -> Supervisor:
        return Supervisor(
            Strategy.ONE_FOR_ONE,
            [
                ChildSpec("slow", Slow),
                ChildSpec(
                    "console.history",
                    lambda: HistoryActor(history, wall=lambda: EPOCH + trio.current_time()),
                ),
            ],
            intensity=Intensity(max_restarts=1, within=60.0),
        )

    async with trio.open_nursery() as nursery:
        await nursery.start(system.run, "root", root)
        started = trio.current_time()
        release = trio.Event()
        slow = system.lookup("slow")
        for _ in range(4):  # one in hand, three waiting in the mailbox
            await slow.tell(Wait(release))
        history.request("user", 0.003)
        await trio.sleep(10.5)
        assert len(history.closed) == 1
        first = history.closed[0]
        assert first.requests == (0, 1, 0, 0)
        assert (first.mailbox_total, first.mailbox_max) == (3, 3)
        assert first.seconds == 10.0
        assert first.at == round(EPOCH + started + 10)

        release.set()
        await trio.sleep(30)
        assert len(history.closed) == 4
        assert [c.at - first.at for c in history.closed] == [0, 10, 20, 30]
        assert history.closed[-1].mailbox_total == 0
        assert history.closed[-1].requests == (0, 0, 0, 0)

        # Asked, it closes at once, and the timer goes on from its own schedule.
        history.push_event()
        closed = await system.lookup("console.history").ask(CloseNow())
        assert closed.push_events == 1 and len(history.closed) == 5
        system.request_stop()
