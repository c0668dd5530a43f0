#!/usr/bin/env python3
"""Peak RSS of the overhead benchmark's `cache` workload, two builds against each other.

    scripts/cache-rss-ab.py OLD_BIN_DIR NEW_BIN_DIR [ROUNDS]

Each directory holds the variant binaries of benches/overhead (a `release` directory of its
CARGO_TARGET_DIR). In each of ROUNDS rounds (default 7) every variant of VARIANTS below runs
`cache` once from each build, back to back (old first in even rounds, new first in odd ones;
the variant that starts rotates), and its printed peak RSS (VmHWM, KiB) is kept. Prints, per
build, the medians over rounds of the same-round ratio of each leakscope variant to its bare
allocator, with the smallest and largest ratio, and the median peak RSS of every variant.
Times nothing: the runs' wall-clock figures are ignored (benches/README.md, "Run E").
"""

import statistics
import subprocess
import sys

PAIRS = [
    ("leakscope_scoped", "system"),
    ("leakscope_jemalloc", "jemalloc"),
    ("leakscope_mimalloc", "mimalloc"),
]
VARIANTS = [v for pair in PAIRS for v in reversed(pair)]


def peak_kib(directory, variant):
    line = subprocess.run(
        [f"{directory}/{variant}", "cache"], capture_output=True, text=True, check=True
    ).stdout
    return int(line.split("\t")[5])


def main():
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    builds = {"old": old, "new": new}
    results = []
    for r in range(rounds):
        order = [
            (build, v)
            for v in VARIANTS
            for build in (("old", "new") if r % 2 == 0 else ("new", "old"))
        ]
        start = (2 * r) % len(order)
        row = {}
        for build, v in order[start:] + order[:start]:
            row[(build, v)] = peak_kib(builds[build], v)
        results.append(row)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    print("| ratio | old | new |")
    print("|---|---|---|")
    for ls, bare in PAIRS:
        cells = []
        for build in ("old", "new"):
            ratios = [row[(build, ls)] / row[(build, bare)] for row in results]
            cells.append(
                f"{statistics.median(ratios):.3f}x ({min(ratios):.3f}-{max(ratios):.3f})"
            )
        print(f"| {ls} / {bare} | {cells[0]} | {cells[1]} |")
    for build in ("old", "new"):
        medians = ", ".join(
            f"{v} {statistics.median(row[(build, v)] for row in results):.0f}"
            for v in VARIANTS
        )
        print(f"{build} median KiB: {medians}")


if __name__ == "__main__":
    main()
