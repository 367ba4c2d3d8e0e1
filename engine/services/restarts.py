"""When the supervisor restarts a child that died: exponential backoff, and when it calls that a crash loop.

A child that dies waits `first_delay_s` before its restart, doubling with every further death up to
`max_delay_s`; one that has stayed up `settled_after_s` starts over at the first delay. Dying
`crash_loop_restarts` times within `crash_loop_window_s` is a crash loop: the supervisor says so loudly and keeps
retrying at the longest delay, so the child heals by itself once the cause is gone.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before a restart, and what counts as a crash loop."""

    first_delay_s: float = 1.0
    max_delay_s: float = 60.0
    settled_after_s: float = 60.0
    crash_loop_restarts: int = 5
    crash_loop_window_s: float = 300.0


@dataclass
class RestartHistory:
    """One child's deaths so far, on a monotonic clock; decides each restart's delay."""

    policy: RestartPolicy
    restarts: int = 0
    crash_looping: bool = False
    _next_delay_s: float | None = None
    _recent: deque[float] = field(default_factory=deque)

    def died(self, now: float) -> float:
        """Record a death at `now` and return how long to wait before restarting."""
        self.restarts += 1
        self._recent.append(now)
        while self._recent[0] <= now - self.policy.crash_loop_window_s:
            self._recent.popleft()
        self.crash_looping = len(self._recent) >= self.policy.crash_loop_restarts
        delay = self._next_delay_s or self.policy.first_delay_s
        self._next_delay_s = min(delay * 2, self.policy.max_delay_s)
        return self.policy.max_delay_s if self.crash_looping else delay

    def settled(self) -> None:
        """The child has stayed up `settled_after_s`: no longer crash-looping, and the next death starts again
        at the first delay (deaths still count towards a crash loop for as long as they are in its window)."""
        self._next_delay_s = None
        self.crash_looping = False

    @property
    def recent_restarts(self) -> int:
        """Restarts within the crash-loop window, as of the last death."""
        return len(self._recent)
