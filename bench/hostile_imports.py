"""Hostile imports: generate many hostile files and count how each one ends.

    python bench/hostile_imports.py --files 1000

Uses the generators of tests/stress/test_hostile_imports.py (hypothesis, no shrinking). Every
file goes through read_table, the Projects page's helpers, plan_import and
create_project_from_plan against a scratch store. Prints files generated, imported, rejected
with a message, and crashes (any exception other than ImportFailed, or a refused file that
changed the store); crashes must be 0. Exits 1 when there is one.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from common import use_scratch_data_dir  # also puts the repository on sys.path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    data_dir = use_scratch_data_dir()

    from hypothesis import given

    from core import store
    from tests.stress.test_hostile_imports import hostile_files, hostile_settings, import_once

    db = store.connect(Path(data_dir) / "hostile.db")
    outcomes: Counter = Counter()
    formats: Counter = Counter()
    crashes: list[str] = []

    @hostile_settings(args.files, shrink=False)
    @given(hostile_files())
    def run(f) -> None:
        formats[Path(f.name).suffix] += 1
        try:
            outcomes[import_once(db, f)] += 1
        except Exception:  # noqa: BLE001 - counting is the point
            outcomes["crashed"] += 1
            crashes.append(f"{f!r}\n{traceback.format_exc(limit=4)}")

    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    by_format = ", ".join(f"{k} {v}" for k, v in sorted(formats.items()))
    print(f"files generated:        {sum(outcomes.values()):,} ({by_format})")
    print(f"imported:               {outcomes['imported']:,}")
    print(f"rejected with a message:{outcomes['rejected']:>6,}")
    print(f"crashes:                {outcomes['crashed']:,}")
    print(f"time:                   {seconds:.1f} s")
    for crash in crashes[:5]:
        print("\n" + crash)
    sys.exit(1 if crashes else 0)


if __name__ == "__main__":
    main()
