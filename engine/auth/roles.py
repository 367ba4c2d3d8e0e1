"""The four roles and their order: each role can do everything the roles below it can.

    viewer    reads dashboards, segments, campaigns and their results
    analyst   + builds segments and looks at customers
    marketer  + creates and launches campaigns and uses the AI helpers (so also builds segments to target)
    admin     + manages users, write keys and settings, reads the audit log

A route states the lowest role it accepts; a higher role passes too.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    analyst = "analyst"
    marketer = "marketer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        """Whether someone with this role may do what `other` may do."""
        return self.rank >= other.rank
