#!/usr/bin/env python3
"""Runs one criterion bench several times and prints, per row, the median, the lowest and
the highest of the runs' medians, with each row's difference to a baseline row.

The machine's noise moves whole runs (every row of a run up or down together); a figure
taken from one run can be off by 2x. The median over runs is what BENCHMARKS.md reports.

    python3 scripts/bench_repeat.py wrappers --runs 5 --baseline bare_fn
"""

import argparse
import re
import statistics
import subprocess
import sys

ROW = re.compile(r"^(\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]")
UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}


def run_once(bench: str, filters: list[str]) -> dict[str, float]:
    """One `cargo bench` run: row name -> median in ns."""
    command = ["cargo", "bench", "-p", "worker-utils", "--bench", bench, "--", *filters]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    # criterion prints a long row name on a line of its own, the figures on the next.
    joined = re.sub(r"^(\S+)\n\s+time:", r"\1 time:", output, flags=re.MULTILINE)
    rows = {}
    for line in joined.splitlines():
        match = ROW.match(line)
        if match:
            name, value, unit = match.groups()
            rows[name.split("/")[-1]] = float(value) * UNITS[unit]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", help="the bench target, e.g. wrappers")
    parser.add_argument("filters", nargs="*", help="criterion filters")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", help="row to subtract (per run) in the last column")
    args = parser.parse_args()

    runs = []
    for i in range(args.runs):
        runs.append(run_once(args.bench, args.filters))
        print(f"run {i + 1}/{args.runs} done", file=sys.stderr)

    print("| row | median of runs | lowest | highest | median over baseline |")
    print("|---|---|---|---|---|")
    for name in runs[0]:
        values = [run[name] for run in runs if name in run]
        over = ""
        if args.baseline:
            over = f"{statistics.median(run[name] - run[args.baseline] for run in runs):+.2f} ns"
        print(
            f"| `{name}` | {statistics.median(values):.2f} ns | {min(values):.2f} ns "
            f"| {max(values):.2f} ns | {over} |"
        )


if __name__ == "__main__":
    main()
