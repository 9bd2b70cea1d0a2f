"""Stint's own log lines go to stderr, one message per line (worker lines are JSON objects)."""

from __future__ import annotations

import logging


def configure(level: str) -> None:
    logger = logging.getLogger("stint")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
