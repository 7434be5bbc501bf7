#!/usr/bin/env python3
"""The project's benches beside the peers' probes, alternated in one sitting, as ratios.

Copies the probes of ../shared/anchors (apalis, wsfanout) out to a temporary directory,
builds them and the project's criterion benches, then runs ROUNDS rounds; each round runs
every probe and, right after it, the project's bench it is paired with:

  apalis MemoryStorage (c=1, c=32)   <->  worker_throughput/noop_jobs_status_{off,on_0_clients}
  raw tokio-tungstenite fan-out      <->  delivery/100_clients (the status server, 100 clients,
                                          laid out like the probe: 20 000 events, 2 threads)
  tower::retry::Retry                <->  the five-layer stack by #[action] and by hand
                                          (one criterion run, so one sitting by construction)

and, within the project, in the same criterion run as the status on/off pair:

  worker_throughput/noop_jobs_status_server_0_clients  <->  ..._100_clients_10_stalled_2_flooders
                                                            (the server on the worker's runtime,
                                                            then on a background thread)

then the status_pairs bench (the same two ratios as medians of paired trials, each pair of
runs back to back, which machine drift between criterion rows does not move), then the
status_soak bench (10 M no-op jobs, status on, 100 clients; its RSS slope and max).
It prints each pair and its ratio, per round, with issue 16's targets beside them:
status on >= 0.8x status off; the whole stack's cost over a bare call <= tower's retry's;
delivery >= 0.8x the raw fan-out ceiling in every round; with 100 clients (10 stalled,
2 flooding) >= 0.95x no client; memory flat over 10 M jobs (the soak's slope and max).

Usage: scripts/bench_anchors.py [--rounds 3] [--jobs 1000000] [--soak-jobs 10000000]
Run it on a quiet machine: every probe and bench saturates both cores. It needs network
access once, for the probes' crates.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANCHORS = Path(os.environ.get("ANCHORS", REPO.parent / "shared" / "anchors"))

UNITS = {"ps": 1e-3, "ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9,
         "elem/s": 1.0, "Kelem/s": 1e3, "Melem/s": 1e6, "Gelem/s": 1e9}


def run(command, cwd=REPO, env=None):
    """Runs `command`, returning its stdout; stops the script with its stderr on failure."""
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{done.stderr[-4000:]}")
    return done.stdout


def criterion(bench, pattern):
    """Runs one criterion bench filtered by `pattern`: {row: median} (ns, or elements/s)."""
    out = run(["cargo", "bench", "--quiet", "-p", "worker-utils", "--bench", bench, "--",
               "--noplot", pattern])
    rows, name = {}, None
    for line in out.splitlines():
        if line and not line[0].isspace() and "/" in line:
            name = line.split()[0]
        # `time: [lo mid hi]` and `thrpt: [lo mid hi]`, each value with its unit; the same
        # words under `change:` that follow hold percentages, and are skipped.
        found = re.search(r"(time|thrpt):\s+\[\S+ \S+ (\S+) (\S+) ", line)
        if name and found and found.group(3) in UNITS:
            key = name if found.group(1) == "time" else f"{name} thrpt"
            rows.setdefault(key, float(found.group(2)) * UNITS[found.group(3)])
    return rows


def result_line(out):
    """The `RESULT key=value ...` line a probe prints, as a dict of floats."""
    line = [line for line in out.splitlines() if line.startswith("RESULT ")][-1]
    return {key: float(value) for key, value in (item.split("=") for item in line.split()[1:])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs per apalis phase")
    parser.add_argument("--soak-jobs", type=int, default=10_000_000, help="jobs of the memory soak")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-anchors."))
    try:
        probes = {}
        for name, binary in (("apalis", "apalis-probe"), ("wsfanout", "wsfanout")):
            shutil.copytree(ANCHORS / name, work / name)
            run(["cargo", "build", "--release", "--quiet"], cwd=work / name,
                env=dict(os.environ, CARGO_TARGET_DIR=str(work / name / "target")))
            probes[name] = work / name / "target" / "release" / binary
        run(["cargo", "bench", "--quiet", "-p", "worker-utils", "--bench", "worker", "--bench", "status",
             "--bench", "wrappers", "--bench", "status_soak", "--bench", "status_pairs", "--no-run"])

        print(f"{args.rounds} rounds; each probe, then its paired bench. "
              f"Ratios are ours / peer's (issue 16's targets in brackets).")
        for round_ in range(1, args.rounds + 1):
            apalis = result_line(run([probes["apalis"], str(args.jobs)]))
            worker = criterion("worker", r"^worker_throughput/noop_jobs_status_(off|on_0_clients|server_0_clients"
                                         r"|server(_background)?_100_clients_10_stalled_2_flooders)$")
            off = worker["worker_throughput/noop_jobs_status_off thrpt"]
            on = worker["worker_throughput/noop_jobs_status_on_0_clients thrpt"]
            alone = worker["worker_throughput/noop_jobs_status_server_0_clients thrpt"]
            mixed = worker["worker_throughput/noop_jobs_status_server_100_clients_10_stalled_2_flooders thrpt"]
            background = worker[
                "worker_throughput/noop_jobs_status_server_background_100_clients_10_stalled_2_flooders thrpt"]
            paired = result_line(run(["cargo", "bench", "--quiet", "-p", "worker-utils", "--bench", "status_pairs"]))
            fanout = result_line(run([probes["wsfanout"]]))["delivered_per_s"]
            delivery = criterion("status", r"^delivery/100_clients$")["delivery/100_clients thrpt"]
            stack = criterion("wrappers", r"^success_path/(bare_fn|tower_retry|worker_utils_all_wrappers"
                                          r"|worker_utils_action_macro_all_wrappers)$")
            soak = result_line(run(["cargo", "bench", "--quiet", "-p", "worker-utils", "--bench", "status_soak",
                                    "--", "--jobs", str(args.soak_jobs)]))
            bare = stack["success_path/bare_fn"]
            tower = stack["success_path/tower_retry"] - bare
            by_macro = stack["success_path/worker_utils_action_macro_all_wrappers"] - bare
            by_hand = stack["success_path/worker_utils_all_wrappers"] - bare

            print(f"\n-- round {round_}")
            print(f"no-op jobs/s: status off {off / 1e6:.2f}M, status on {on / 1e6:.2f}M: "
                  f"on/off {on / off:.2f}x [>= 0.8x]")
            print(f"  beside apalis c=1 {apalis['c1'] / 1e6:.2f}M, c=32 {apalis['c32'] / 1e6:.2f}M: "
                  f"status off {off / apalis['c1']:.2f}x / {off / apalis['c32']:.2f}x, "
                  f"status on {on / apalis['c1']:.2f}x / {on / apalis['c32']:.2f}x")
            print(f"  paired trials ({paired['trials']:.0f}, medians): status on/off {paired['on_off_median']:.2f}x, "
                  f"100 clients (server on a background thread) / none {paired['clients_median']:.2f}x")
            print(f"delivery to 100 clients {delivery / 1e6:.2f}M msgs/s, raw fan-out {fanout / 1e6:.2f}M: "
                  f"{delivery / fanout:.2f}x [>= 0.8x]")
            print(f"no-op jobs/s beside a status server: 100 clients (10 stalled, 2 flooding) "
                  f"{mixed / 1e6:.2f}M, no client {alone / 1e6:.2f}M: {mixed / alone:.2f}x; with the server on "
                  f"a background thread {background / 1e6:.2f}M: {background / alone:.2f}x [>= 0.95x]")
            print(f"memory over {soak['jobs'] / 1e6:.0f}M jobs with 100 clients ({soak['seconds']:.0f} s): "
                  f"RSS max {soak['rss_max_mib']:.1f} MiB, slope {soak['slope_mib_per_mjobs']:+.2f} MiB per M jobs, "
                  f"{soak['slope_mib_per_min']:+.2f} MiB per minute [flat]")
            print(f"cost over a bare call ({bare:.2f} ns): five layers by #[action] +{by_macro:.1f} ns, "
                  f"by hand +{by_hand:.1f} ns, tower retry +{tower:.1f} ns: "
                  f"{by_macro / tower:.2f}x / {by_hand / tower:.2f}x [<= 1.0x]")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
