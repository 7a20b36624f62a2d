"""The file-system side of Liquid includes: only ``_includes/`` and the post's own folder.

Implements :class:`feedsmith.core.jekyll.liquid.IncludeSource` (the helper owning this module
fills it in): paths resolved with symlinks followed and refused when they leave their folder,
size-capped reads, UTF-8.
"""

from __future__ import annotations
