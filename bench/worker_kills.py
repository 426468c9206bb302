"""kill -9 the worker at random moments of embed, head, full and export jobs; print the figures.

    python bench/worker_kills.py [--kills 50] [--seed 0]

See tests/stress/worker_kills.py for what each round checks; results in docs/reliability.md.
"""
from __future__ import annotations

import argparse
import json

import common

from tests.stress import worker_kills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"data directory {common.use_scratch_data_dir()}")
    figures = worker_kills.run(args.kills, args.seed)
    print(json.dumps(figures, indent=1))
    raise SystemExit(1 if figures["problems"] else 0)


if __name__ == "__main__":
    main()
