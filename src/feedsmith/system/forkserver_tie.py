"""Imported by the build pool's forkserver as a preload module (and by nothing else): ties the
forkserver to the builder that started it (see :mod:`feedsmith.system.lifeline`).

A module of its own because the tie happens on import: ``set_forkserver_preload`` takes module
names, not functions, and the builder itself must not arm anything when it imports
:mod:`feedsmith.system.lifeline`.
"""

from __future__ import annotations

import os

from feedsmith.system.lifeline import PARENT_ENV_VAR, die_with_parent


def _tie() -> None:
    parent = os.environ.get(PARENT_ENV_VAR, "")
    if parent.isdigit():
        die_with_parent(int(parent))


_tie()
