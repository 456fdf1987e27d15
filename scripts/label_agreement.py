"""Agreement between the two independent labelling passes of data/labels/pool.jsonl, per label.

    .venv/bin/python scripts/label_agreement.py [data/labels/pool.jsonl]

Prints, per label, how many items each pass gave it, the F1 of one pass against the other (symmetric) and
Cohen's kappa; then how many items the passes disagreed on (settled by a third reading: the final label is the
majority of the three), and each pass against the final labels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = ("regulation", "adoption", "mining")
DEFAULT = Path(__file__).resolve().parents[1] / "data" / "labels" / "pool.jsonl"


def agreement(a: list[bool], b: list[bool]) -> tuple[float, float]:
    """(F1 of b against a, Cohen's kappa)."""
    n = len(a)
    tp = sum(x and y for x, y in zip(a, b))
    fp = sum(y and not x for x, y in zip(a, b))
    fn = sum(x and not y for x, y in zip(a, b))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return f1, (observed - expected) / (1 - expected) if expected < 1 else 1.0


def main(argv: list[str]) -> None:
    path = Path(argv[0]) if argv else DEFAULT
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"{len(rows)} items in {path.name}")
    print(f"{'label':<12}{'pass A':>8}{'pass B':>8}{'final':>8}{'F1 A~B':>9}{'kappa':>8}{'A~final':>9}{'B~final':>9}")
    for label in LABELS:
        a = [label in r["a"] for r in rows]
        b = [label in r["b"] for r in rows]
        final = [label in r["labels"] for r in rows]
        f1, kappa = agreement(a, b)
        print(f"{label:<12}{sum(a):>8}{sum(b):>8}{sum(final):>8}{f1:>9.3f}{kappa:>8.3f}"
              f"{agreement(final, a)[0]:>9.3f}{agreement(final, b)[0]:>9.3f}")
    third = sum("c" in r for r in rows)
    print(f"items on which the passes disagreed (settled by a third reading): {third}")


if __name__ == "__main__":
    main(sys.argv[1:])
