"""Airflow ``core.hostname_callable`` for the distributed test: both Celery workers run on one machine, so each
reports the name in CN_WORKER_HOSTNAME (task_instance.hostname) to tell their work apart."""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("CN_WORKER_HOSTNAME") or socket.getfqdn()
