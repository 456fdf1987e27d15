"""Worker processes for the CPU-bound stages: a fork server that has already imported what the workers need.

The pipeline's own process runs threads and is never forked; the fork server is started once per process, imports
the extraction modules (for extraction) and builds the classifier (:mod:`.warm`), and every worker is forked from it
ready to work."""

from __future__ import annotations

import multiprocessing


def worker_context(extraction: bool = True):
    """Start method of the worker pools: a fork server (the pipeline's own process, which runs threads, is never
    forked) that imports what the workers need (trafilatura only for extraction) and builds the classifier once;
    each worker is forked from it ready to work. The first pool of a process starts the fork server."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["crypto_news.pipeline.stage_extract", "crypto_news.extract", "crypto_news.pipeline.warm"]
                               if extraction else ["crypto_news.pipeline.warm"])
    return ctx
