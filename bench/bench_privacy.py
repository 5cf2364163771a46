"""Benchmark of the keyed record reference (run on demand; not a test).

    .venv/bin/python bench/bench_privacy.py                  # 1,000,000 citizen IDs
    .venv/bin/python bench/bench_privacy.py --values 10000000

Hashes random 12-digit citizen IDs (all distinct, the worst case) and the same number
of values with 1% distinct (household numbers repeat per member); prints seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assets.privacy import record_reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    ids = pd.Series([f"{n:012d}" for n in rng.integers(0, 10**12, args.values)], dtype="string")
    repeated = pd.Series(rng.choice(ids.to_numpy()[: max(args.values // 100, 1)], args.values))
    secret = rng.bytes(32)
    for label, values in (("distinct", ids), ("1% distinct", repeated.astype("string"))):
        start = time.perf_counter()
        record_reference(values, secret)
        seconds = time.perf_counter() - start
        print(f"{args.values:,} values, {label} ({values.nunique():,}): {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
