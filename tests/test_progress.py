"""What a long stage logs while it generates or judges: done of total, rate and time left."""

from __future__ import annotations

from mascot.progress import Progress, clock_time


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_rate_and_eta_come_from_the_items_computed_so_far():
    clock = Clock()
    progress = Progress("candidates", clock=clock)
    clock.now += 10
    assert progress.line(0, 40) == "candidates: 0/40 (0%)"
    progress(10, 40)
    assert progress.line(10, 40) == "candidates: 10/40 (25%) · 1.00/s · ETA 0:30"
    clock.now += 10
    progress(30, 40)
    assert progress.line(30, 40) == "candidates: 30/40 (75%) · 1.50/s · ETA 0:07"
    assert progress.line(40, 40) == "candidates: 40/40 (100%)"


def test_chunks_read_back_from_a_resume_store_do_not_inflate_the_rate():
    clock = Clock()
    progress = Progress("judge base: candidates", clock=clock)
    progress(500, 1000, fresh=False)  # half the work was done by the killed run
    clock.now += 50
    progress(600, 1000)
    assert progress.line(600, 1000).endswith("· 2.00/s · ETA 3:20")


def test_clock_time():
    assert (clock_time(7), clock_time(3599), clock_time(3725)) == ("0:07", "59:59", "1:02:05")
