"""A re-armable wake-up signal for Trio tasks (an Event that resets itself after each wait)."""

from __future__ import annotations

import math

import trio


class Wakeup:
    """`fire()` wakes every task in `wait()`; later waits block again until the next `fire()`."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self, deadline: float = math.inf) -> bool:
        """Wait for the next fire (True) or until Trio time `deadline` (False)."""
        event = self._event
        if deadline == math.inf:  # no cancel scope needed (most waits in a busy node are of this kind)
            await event.wait()
            return True
        with trio.move_on_at(deadline):
            await event.wait()
            return True
        return False
