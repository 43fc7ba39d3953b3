"""Progress a person can read in a long stage's log: items done of total, rate and time left."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("mascot")


class Progress:
    """The ``progress(done, total, fresh)`` callback of the generation and judging loops; logs e.g.
    ``candidates: 64/192 (33%) · 1.90/s · ETA 1:07``. Only chunks computed now (``fresh``) count
    towards the rate: chunks a resumed run reads back from its store take no time."""

    def __init__(self, what: str, clock=time.monotonic):
        self.what, self.clock = what, clock
        self.start, self.last_done, self.computed = clock(), 0, 0

    def __call__(self, done: int, total: int, fresh: bool = True) -> None:
        if fresh:
            self.computed += done - self.last_done
        self.last_done = done
        log.info("%s", self.line(done, total))

    def line(self, done: int, total: int) -> str:
        text = f"{self.what}: {done}/{total} ({100 * done / max(total, 1):.0f}%)"
        elapsed = self.clock() - self.start
        if self.computed and elapsed > 0 and done < total:
            rate = self.computed / elapsed
            text += f" · {rate:.2f}/s · ETA {clock_time((total - done) / rate)}"
        return text


def clock_time(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
