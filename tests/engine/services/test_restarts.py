"""Restart delays double up to a ceiling, start over once a child stays up, and five quick deaths are a crash loop."""

from __future__ import annotations

from engine.services.restarts import RestartHistory, RestartPolicy


def test_delays_double_from_one_second_up_to_a_minute() -> None:
    history = RestartHistory(RestartPolicy(crash_loop_restarts=100))
    delays = [history.died(now=float(n * 1000)) for n in range(9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert history.restarts == 9


def test_a_child_that_stayed_up_starts_again_at_the_first_delay() -> None:
    history = RestartHistory(RestartPolicy())
    assert [history.died(now=t) for t in (0, 10, 20)] == [1, 2, 4]
    history.settled()
    assert history.died(now=400) == 1


def test_five_restarts_within_five_minutes_are_a_crash_loop_retried_at_the_longest_delay() -> None:
    history = RestartHistory(RestartPolicy())
    delays = [history.died(now=t) for t in (0, 2, 5, 10, 19)]
    assert history.crash_looping
    assert delays == [1, 2, 4, 8, 60]
    assert history.recent_restarts == 5


def test_deaths_spread_over_more_than_five_minutes_are_no_crash_loop() -> None:
    history = RestartHistory(RestartPolicy())
    for t in (0, 100, 200, 300, 400):
        history.died(now=t)
    assert not history.crash_looping


def test_a_crash_loop_ends_once_the_child_stays_up() -> None:
    history = RestartHistory(RestartPolicy())
    for t in range(5):
        history.died(now=t)
    history.settled()
    assert not history.crash_looping
    assert history.died(now=100) == 60, "dying again within the window is still a crash loop"
