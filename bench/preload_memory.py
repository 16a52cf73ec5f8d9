"""Memory of the template's model server with a big model: per-worker copies vs EASY_SM_PRELOAD.

    python bench/preload_memory.py [--model-mb 400] [--workers 4]

What it does, in one run on this machine (loopback only, no Docker, a few GB of RAM):
1. Saves a model of `--model-mb` MB with joblib (a float64 numpy array of random numbers, as a
   big embedding table or tree ensemble would weigh) in a temp folder.
2. Runs the template's `prediction/serve` (gunicorn, `--workers` workers, on 127.0.0.1) with an
   inference.py whose model_fn loads it, twice: the default (each worker loads its own copy) and
   EASY_SM_PRELOAD=true (model_fn once in the master, the workers share it copy-on-write).
3. For each: the time from start to the first GET /ping 200 (which, since /ping is 200 only
   once every worker has loaded, is the time until the whole server is ready), then, after 40
   predictions, the total PSS and RSS of the master and its workers, from
   /proc/PID/smaps_rollup. PSS counts a page shared by n processes as 1/n in each, so its sum is
   the memory the server really takes; RSS counts shared pages once per process.

It prints each figure beside one copy of the model; the last line is
`preload_pss_over_model=<ratio>` (target: <= 1.3).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _common import free_port

PREDICTION = Path(__file__).resolve().parents[1] / "easy_sm/template/easy_sm_base/prediction"

INFERENCE = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(data, model):
    return data.sum(axis=1) * model[0]
"""


def make_model(directory: Path, megabytes: int) -> int:
    """A `megabytes` MB float64 array saved with joblib; its size in bytes."""
    import joblib
    import numpy as np

    weights = np.random.default_rng(0).standard_normal(megabytes * 1024 * 1024 // 8)
    joblib.dump(weights, directory / "model.joblib")
    return int(weights.nbytes)


def memory_kb(pid: int) -> tuple[int, int]:
    """(Pss, Rss) of one process in kB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii").splitlines()[1:]:
        name, _, value = line.partition(":")
        fields[name.strip()] = int(value.split()[0])
    return fields["Pss"], fields["Rss"]


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="ascii")
    return [int(child) for child in text.split()]


def ping(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def measure(folder: Path, model_dir: Path, workers: int, preload: bool) -> dict[str, float]:
    port = free_port()
    log = (folder / f"server-{'preload' if preload else 'per-worker'}.log").open("wb")
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, str(folder / "serve")],
        env={
            **os.environ,
            "SM_MODEL_DIR": str(model_dir),
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "EASY_SM_BIND_HOST": "127.0.0.1",
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(workers),
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "300",
            "EASY_SM_PRELOAD": "true" if preload else "false",
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        while ping(port) != 200:
            if server.poll() is not None or time.monotonic() - started > 300:
                raise SystemExit(f"bench: the server did not get ready; see {log.name}")
            time.sleep(0.02)
        ready = time.monotonic() - started
        for _ in range(40):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/invocations",
                data=b"1,2,3,4\n",
                headers={"Content-Type": "text/csv"},
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                answer.read()
        # Preloaded workers answer as soon as they are forked: wait for the last one.
        while len(children(server.pid)) < workers and time.monotonic() - started < 300:
            time.sleep(0.05)
        pids = [server.pid, *children(server.pid)]
        if len(pids) != workers + 1:
            raise SystemExit(f"bench: expected {workers} workers, found {len(pids) - 1}")
        pss = rss = 0
        for pid in pids:
            process_pss, process_rss = memory_kb(pid)
            pss += process_pss
            rss += process_rss
        return {"ready_s": ready, "pss_mb": pss / 1024, "rss_mb": rss / 1024}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="model server memory: per-worker vs preload")
    parser.add_argument("--model-mb", type=int, default=400, help="size of the model (MB)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    args = parser.parse_args(argv)
    if not 1 <= args.model_mb <= 4096 or not 1 <= args.workers <= 32:
        raise SystemExit("bench: --model-mb must be in [1, 4096], --workers in [1, 32]")
    workdir = Path(tempfile.mkdtemp(prefix="easy_sm-bench-preload-"))
    try:
        folder = workdir / "prediction"
        shutil.copytree(PREDICTION, folder, ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "inference.py").write_text(INFERENCE, encoding="utf-8")
        model_dir = workdir / "model"
        model_dir.mkdir()
        print(f"bench: saving a {args.model_mb} MB model with joblib", file=sys.stderr)
        model_mb = make_model(model_dir, args.model_mb) / 1024 / 1024
        results = {}
        for preload in (False, True):
            name = "EASY_SM_PRELOAD=true" if preload else "per-worker (default)"
            print(f"bench: serving with {name}", file=sys.stderr, flush=True)
            results[name] = measure(folder, model_dir, args.workers, preload)
        print(
            f"\n{args.workers} workers, one {model_mb:.0f} MB model (numpy array via joblib); "
            f"{os.cpu_count()} CPUs; total over the master and its workers"
        )
        for name, result in results.items():
            print(
                f"{name:<22} PSS {result['pss_mb']:>6.0f} MB ({result['pss_mb'] / model_mb:.2f}x "
                f"the model)   RSS {result['rss_mb']:>6.0f} MB   "
                f"first /ping 200 after {result['ready_s']:.2f} s"
            )
        preloaded = results["EASY_SM_PRELOAD=true"]
        print(f"preload_pss_over_model={preloaded['pss_mb'] / model_mb:.2f}")
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
