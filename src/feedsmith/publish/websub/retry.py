"""When an outgoing WebSub request (ping, verification, delivery) is tried again.

Its own module: the schedule is policy shared by the notifier and the hub's jobs, not storage.
"""

from __future__ import annotations

__all__ = ["MAX_ATTEMPTS", "RETRY_BASE_SECONDS", "RETRY_CAP_SECONDS", "backoff"]

#: Retry schedule of every outgoing request (ping, verification, delivery): 2 s, 4 s, … capped
#: at an hour, dropped after ``MAX_ATTEMPTS`` (about ten hours of a hub or callback down).
RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 3600.0
MAX_ATTEMPTS = 20


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure (exponential, capped)."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_CAP_SECONDS)
