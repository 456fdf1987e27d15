"""Worker processes for the CPU-bound stages: a fork server that has already imported what the workers need.

The pipeline's own process runs threads and is never forked; the fork server is started once per process, imports
the extraction modules (for extraction) and builds the classifier (:mod:`.warm`), and every worker is forked from it
ready to work."""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def worker_context(extraction: bool = True):
    """Start method of the worker pools: a fork server (the pipeline's own process, which runs threads, is never
    forked) that imports what the workers need (trafilatura only for extraction) and builds the classifier once;
    each worker is forked from it ready to work. The first pool of a process starts the fork server."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["crypto_news.pipeline.stage_extract", "crypto_news.extract", "crypto_news.pipeline.warm"]
                               if extraction else ["crypto_news.pipeline.warm"])
    return ctx


def end_with(pid: int) -> None:
    """Pool initializer: the worker exits as soon as process ``pid`` (the pipeline's) ends, however it ends.

    Workers are children of the fork server, not of the pipeline, so nothing else tells them that a killed run
    (SIGKILL, SIGTERM, out of memory) has gone: they would wait on their task queue for ever, and keep the fork
    server and the resource tracker alive with them (each holds their pipes). A thread waits on a pidfd of the
    pipeline process (polls once a second where pidfds are missing) and ends the worker."""

    def wait_then_exit():
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            fd = None
        if fd is not None:
            select.select([fd], [], [])
        else:
            while True:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                except PermissionError:
                    pass
                time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=wait_then_exit, name="end-with-the-run", daemon=True).start()


def worker_pool(workers: int, extraction: bool = True) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes from the fork server (:func:`worker_context`) that end with this process."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=worker_context(extraction), initializer=end_with,
                               initargs=(os.getpid(),))
