"""The built-in hub's HTTP side (placeholder until step 3): metrics registration."""

from __future__ import annotations

from flask import Flask

from feedsmith.config import Config
from feedsmith.metrics import Metrics
from feedsmith.websub.observe import WebSubCollector


def install(app: Flask, config: Config, metrics: Metrics) -> None:
    """Register WebSub's metrics (and, with ``websub.builtin``, the hub's routes)."""
    metrics.register(WebSubCollector(config.state_dir))
