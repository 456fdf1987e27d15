"""Checks made before a run starts: the settings and the feed list. A configuration error is not transient,
so it must stop the run at once with the reason (exit status 2 on the command line, a failed task without
retries in Airflow) instead of surfacing minutes later in a stage that is retried."""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, Settings
from ..feeds.feedlist import load_feed_list


def check_config(feeds_file: str | Path | None = None, env=None) -> Settings:
    """The settings read from the environment, after checking them and the feed list; raises ConfigError
    naming what is wrong."""
    settings = Settings.from_env(env)
    path = Path(feeds_file) if feeds_file else settings.feeds_file
    specs = load_feed_list(path)
    if not any(s.enabled for s in specs):
        raise ConfigError(f"feed list {path} has no enabled feed")
    return settings
