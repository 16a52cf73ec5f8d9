#!/usr/bin/env python3
"""How instant is `easy_sm --help`? Median wall time and peak memory (max RSS) over repeated
runs, side by side with a bare interpreter start (`python -c pass`), and the ratio.

Targets (issue 2): `easy_sm --help` within 8x of bare interpreter start and under 40 MB.
For reference, the original easy_sm (eager `import sagemaker`) takes about 2.5 s / 177 MB.

Usage: python bench/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


def measure(argv: list[str], runs: int) -> tuple[float, float]:
    """(median seconds, median peak RSS in MB) of running argv `runs` times."""
    times: list[float] = []
    peaks: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} exited {proc.returncode}")
        peaks.append(usage.ru_maxrss / 1024)  # KB on Linux
    return statistics.median(times), statistics.median(peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    script = shutil.which("easy_sm") or shutil.which(
        "easy_sm", path=os.path.dirname(sys.executable)
    )
    easy_sm = [script, "--help"] if script else [sys.executable, "-m", "easy_sm", "--help"]
    measure(easy_sm, 2)  # warm the file cache
    bare_t, bare_m = measure([sys.executable, "-c", "pass"], args.runs)
    cli_t, cli_m = measure(easy_sm, args.runs)
    print(f"runs per command:       {args.runs}")
    print(f"python -c pass:         {bare_t * 1000:7.1f} ms  {bare_m:6.1f} MB")
    print(f"easy_sm --help:         {cli_t * 1000:7.1f} ms  {cli_m:6.1f} MB")
    print(f"ratio (time):           {cli_t / bare_t:7.2f}x   (target <= 8x)")
    print(f"peak memory under 40MB: {'yes' if cli_m < 40 else 'NO'}")
    print(f"startup_ratio={cli_t / bare_t:.2f}")


if __name__ == "__main__":
    main()
