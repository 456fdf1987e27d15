"""Classifier throughput on synthetic ~800-word articles, on one core.

    .venv/bin/python scripts/bench_classify.py [--articles N] [--rounds R]

Prints articles per second (single process, single thread). The articles are assembled from sentences written
for this benchmark, mixing the vocabulary of every label with neutral market prose.
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from crypto_news.classify import Classifier, RuleScorer

SENTENCES = [
    "Bitcoin traded near its weekly high on Tuesday as traders weighed fresh macroeconomic data.",
    "The Securities and Exchange Commission said it would review the proposal before the end of the quarter.",
    "Lawmakers in the Senate introduced a bill that would set licensing rules for stablecoin issuers.",
    "Several regional banks now offer custody services for digital assets to their wealth clients.",
    "A large retailer said customers can pay with bitcoin at more than two thousand stores.",
    "Public miners reported higher hashrate in March as new ASIC machines came online.",
    "Network difficulty rose again, squeezing the margins of smaller mining operations.",
    "Analysts said the price could retest support before any sustained move higher.",
    "Spot ETF products recorded net inflows for the fifth consecutive session, according to fund data.",
    "The central bank reiterated that it has no plans to issue a digital currency this year.",
    "Ether and Solana outperformed, while the broader market stayed flat for most of the day.",
    "The company said it would deploy a blockchain based supply chain system across its warehouses.",
    "Prosecutors charged two people with operating an unlicensed money transmitting business.",
    "Hosting providers in Texas signed new power purchase agreements with wind farms.",
    "Trading volume on decentralised exchanges was little changed from the previous week.",
    "The finance ministry published draft guidance on the taxation of crypto gains.",
    "An asset manager added bitcoin to the treasury of one of its listed funds.",
    "Developers shipped a network upgrade that lowers fees for layer 2 rollups.",
    "Some holders moved coins to exchanges, which often precedes selling pressure.",
    "Officials in Kazakhstan said they would raise electricity tariffs for data centres used for mining.",
    "The partnership lets merchants settle card payments in USDC within minutes.",
    "Market makers widened spreads ahead of the options expiry on Friday.",
    "A court in New York approved the settlement between the regulator and the exchange.",
    "Users of the wallet can now swap tokens across several chains in one step.",
]


def make_article(rng: random.Random, words: int = 800) -> tuple[str, str, str]:
    title = rng.choice(SENTENCES).rstrip(".")
    summary = " ".join(rng.sample(SENTENCES, 2))
    body, n = [], 0
    while n < words:
        s = rng.choice(SENTENCES)
        body.append(s)
        n += len(s.split())
    return title, summary, " ".join(body)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rng = random.Random(5)
    articles = [make_article(rng) for _ in range(args.articles)]
    words = sum(len(a[2].split()) for a in articles) / len(articles)
    start = time.perf_counter()
    clf = Classifier()
    load = time.perf_counter() - start
    rules = RuleScorer()
    results = {}
    for name, f in (("classifier", clf.classify), ("taxonomy rules alone", rules.classify)):
        f(*articles[0])  # warm up
        best = 0.0
        for _ in range(args.rounds):
            start = time.perf_counter()
            for a in articles:
                f(*a)
            best = max(best, len(articles) / (time.perf_counter() - start))
        results[name] = best
    print(f"{results['classifier']:,.0f} articles/second/core ({args.articles} articles, {words:.0f} body words on "
          f"average, best of {args.rounds} rounds, classifier {clf.version}); the taxonomy rules alone on the same "
          f"articles: {results['taxonomy rules alone']:,.0f}/s (ratio "
          f"{results['classifier'] / results['taxonomy rules alone']:.2f}); model load {load:.2f} s; "
          f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
