"""Extraction quality on the article-extraction benchmark: ours vs plain trafilatura defaults.

Usage:
    .venv/bin/python scripts/extraction_quality.py [--corpus DIR] [--limit N] [--json OUT]

Both extractors run in the same process on the same pages. Each page gets the ground-truth URL as its
page URL. "ours" scores the text as extracted whatever the status (the benchmark's ground truth includes
the teaser text of paywalled pages); "ours, refused pages as empty" scores what the pipeline stores, a
page with a failure status counting as an empty text. Every page of the benchmark that gets a
failure status is listed, so its verdict can be checked by hand.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from crypto_news.extract import EXTRACTOR_VERSION, analyse_page  # noqa: E402 - after the sys.path line
from scoring import score  # noqa: E402 - after the sys.path line

DEFAULT_CORPUS = REPO.parent / "shared" / "corpora" / "article-extraction-benchmark"


def load_corpus(corpus: Path, limit: int | None = None) -> list[tuple[str, str, bytes, str]]:
    """(id, url, html bytes, ground-truth body) for every page of the corpus."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    items = []
    for key in sorted(truth)[:limit]:
        body = gzip.decompress((corpus / "html" / f"{key}.html.gz").read_bytes())
        items.append((key, truth[key]["url"], body, truth[key]["articleBody"]))
    return items


def run_both(items):
    """Both extractors page by page, in alternating order, so that the machine's speed drifting during the run
    weighs on both alike. Returns plain texts, our texts as extracted, as delivered (empty unless "ok"), our status
    counts and details, and the seconds per page of each."""
    plain, texts, delivered, statuses, details = {}, {}, {}, Counter(), {}
    plain_s = ours_s = 0.0
    for i, (key, url, body, _) in enumerate(items):
        for which in ("plain", "ours") if i % 2 == 0 else ("ours", "plain"):
            t0 = time.perf_counter()
            if which == "plain":
                plain[key] = trafilatura.extract(body.decode("utf-8", "replace"), url=url) or ""
                plain_s += time.perf_counter() - t0
                continue
            result, text = analyse_page(body, url=url, content_type="text/html; charset=utf-8")
            ours_s += time.perf_counter() - t0
            texts[key], delivered[key] = text, result.text or ""
            statuses[result.status] += 1
            if result.status != "ok":
                details[key] = f"{result.status}: {result.detail}"
    n = max(1, len(items))
    return plain, texts, delivered, statuses, details, plain_s / n, ours_s / n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="benchmark folder (default: %(default)s)"
    )
    ap.add_argument("--limit", type=int, default=None, help="score only the first N pages (by id)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON to this file")
    args = ap.parse_args(argv)
    if not (args.corpus / "ground-truth.json").exists():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2

    items = load_corpus(args.corpus, args.limit)
    truth = {key: gt for key, _, _, gt in items}
    plain_texts, our_texts, delivered, statuses, details, plain_time, our_time = run_both(items)

    rows = {
        f"trafilatura {trafilatura.__version__} defaults": (
            score((plain_texts[k], truth[k]) for k in truth),
            plain_time,
        ),
        f"ours ({EXTRACTOR_VERSION})": (score((our_texts[k], truth[k]) for k in truth), our_time),
        "ours, refused pages as empty": (score((delivered[k], truth[k]) for k in truth), our_time),
    }
    print(f"{len(items)} pages from {args.corpus}")
    print(f"{'extractor':40} {'F1':>6} {'prec':>6} {'recall':>6} {'acc':>6} {'ms/page':>8}")
    for name, (s, t) in rows.items():
        print(f"{name:40} {s.f1:6.4f} {s.precision:6.4f} {s.recall:6.4f} {s.accuracy:6.3f} {t * 1000:8.1f}")
    refused = {k: v for k, v in details.items() if v.startswith(("blocked", "paywall_or_teaser"))}
    print(f"our statuses: {dict(statuses)}")
    print(f"blocked/paywall verdicts on benchmark pages: {len(refused)}/{len(items)} (each listed below)")
    for key, detail in details.items():
        print(f"  {key[:12]} {detail}")

    if args.json:
        out = {name: {**s.as_dict(), "ms_per_page": t * 1000} for name, (s, t) in rows.items()}
        out["statuses"] = dict(statuses)
        out["blocked_or_paywall_verdicts"] = details
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
