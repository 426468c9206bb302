"""How many labels the eval sample costs, and what it buys: the 95 % interval of eval accuracy
against labels spent, for the eval rate Sieve uses and two alternatives (issue 20, item 1).

    python bench/eval_rate.py

Pure arithmetic (Wilson intervals at a true accuracy of 75 %) over the serving rule itself
(`annotate.eval_due`), so it runs in a second on any machine.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.labeling import annotate  # noqa: E402
from core.learning.evaluation import wilson_interval  # noqa: E402

TRUE_ACCURACY = 0.75
TOTALS = (50, 100, 150, 250, 400, 500, 1000)


def every(k: int):
    return lambda pool, ev: pool >= (ev + 1) * (k - 1)


RULES = {"1 in 10 (before)": every(10), "1 in 5 until 50, then 1 in 10 (now)": annotate.eval_due,
         "1 in 5 always": every(5)}


def split(rule, total: int) -> tuple[int, int]:
    """(pool labels, eval labels) after `total` labels of one annotator under `rule`."""
    pool = ev = 0
    for _ in range(total):
        if rule(pool, ev):
            ev += 1
        else:
            pool += 1
    return pool, ev


def half_width(n: int) -> float:
    low, high = wilson_interval(round(TRUE_ACCURACY * n), n)
    return (high - low) / 2


def main() -> None:
    print(f"95 % Wilson interval half-width of eval accuracy at a true {TRUE_ACCURACY:.0%}, by labels spent")
    print(f"{'rule':<38}" + "".join(f"{t:>14}" for t in TOTALS))
    for name, rule in RULES.items():
        cells = []
        for total in TOTALS:
            pool, ev = split(rule, total)
            cells.append(f"{ev:>3} ev ±{half_width(ev) * 100:4.1f}" if ev else "   0 ev    -")
        print(f"{name:<38}" + "".join(f"{c:>14}" for c in cells))
    print(f"{'training labels given up vs 1 in 10':<38}" + "".join(
        f"{split(RULES['1 in 10 (before)'], t)[0] - split(annotate.eval_due, t)[0]:>14}" for t in TOTALS))


if __name__ == "__main__":
    main()
