"""Throughput of the template's model server against the stacks a user would otherwise pick.

    python bench/serving.py [--seconds 3] [--rounds 3] [--concurrency 1,8,32] [--keep]
                            [--no-control]

What it does, in one run on this machine (loopback only, bounded in time and requests):
1. `easy_sm init` an example project in a temp folder, `easy_sm build` its image,
   `easy_sm local train` the example model (iris, scikit-learn LogisticRegression).
2. `easy_sm local deploy -p PORT`: the template's server (gunicorn, prediction/serve).
3. The same model behind the original template's server, Flask's development server
   (`app.run`, parsing CSV with pandas, as prteek/easy_sm's prediction/serve does), in a second
   image built FROM the example image with flask and pandas added, so both run on the same
   base image, Python and scikit-learn, through the same Docker port publishing.
4. The stack AWS's bring-your-own-container sample (scikit_bring_your_own) uses and sagify
   ships: nginx in front of gunicorn with gevent workers (one per CPU) on a unix socket, serving
   a Flask app that parses CSV with pandas, as the sample's predictor.py does. nginx comes from
   Debian's apt (the build reaches it). Taken as the sample ships it except nginx's
   per-request access log, off here as the template's is by default.
5. The ceiling: a bare gunicorn app (same settings as the template: gthread, one worker per
   CPU, 4 threads) answering a constant, without parsing or predicting.
6. A control: the template's own wsgi.py app on the server app.run uses (werkzeug, threaded),
   to show how much of the gain is the server alone (`--no-control` skips it).
7. Closed-loop load from a separate process (asyncio, keep-alive HTTP/1.1 connections, one
   single-record CSV request per round trip, every answer checked) at each concurrency, in
   interleaved rounds so that other work on the machine hits every server alike; per level the
   median round's requests/s and the median p50/p99 latency.
8. Stops and removes every container and image it started (`--keep` keeps the images).

It prints the template's requests/s as a percentage of the ceiling, then
`vs_aws_stack_c8=<ratio>` (the template's requests/s at concurrency 8 over the AWS stack's;
target >= 1.5 with p99 no worse) and, last, `speedup_c8=<ratio>` (over Flask's app.run).
All three baselines run in one image built FROM the example image, so every server has the same
base image, Python and scikit-learn, behind the same Docker port publishing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

from _common import free_port

APP_NAME = "bench-serving"
PAYLOAD = b"5.1,3.5,1.4,0.2\n"
EXPECTED = b"setosa\n"
MAX_REQUESTS_PER_LEVEL = 200_000
LABEL = "easy_sm.bench=serving"

# The original template's server (prteek/easy_sm, prediction/serve), with model_fn filled in
# the way our example loads the model.
FLASK_SERVE = """\
import json
import os
from io import StringIO

import flask
import joblib
import pandas as pd
from flask import Flask, Response


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def predict_fn(input_data, model):
    return model.predict(input_data)


app = Flask(__name__)
model = model_fn(model_dir="/opt/ml/model")


@app.route("/ping", methods=["GET"])
def ping():
    return Response(response="\\n", status=200)


@app.route("/invocations", methods=["POST"])
def predict():
    input_data = flask.request.data
    content_type = flask.request.content_type
    if content_type == "text/csv":
        X = pd.read_csv(StringIO(input_data.decode("utf-8")), header=None)
    else:
        return Response(response="Unsupported content type", status=400)
    predictions = predict_fn(X, model)
    out = StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    return Response(response=out.getvalue(), status=200, mimetype="text/csv")


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8080)
"""


# The AWS sample's predictor.py (scikit_bring_your_own/container/decision_trees), with the
# model loaded the way our example saves it; the sample's per-request print is left out.
AWS_PREDICTOR = """\
import io
import os

import flask
import joblib
import pandas as pd

prefix = "/opt/ml/"
model_path = os.path.join(prefix, "model")


class ScoringService(object):
    model = None

    @classmethod
    def get_model(cls):
        if cls.model is None:
            cls.model = joblib.load(os.path.join(model_path, "model.joblib"))
        return cls.model

    @classmethod
    def predict(cls, input):
        clf = cls.get_model()
        return clf.predict(input)


app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping():
    health = ScoringService.get_model() is not None
    status = 200 if health else 404
    return flask.Response(response="\\n", status=status, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def transformation():
    data = None
    if flask.request.content_type == "text/csv":
        data = flask.request.data.decode("utf-8")
        s = io.StringIO(data)
        data = pd.read_csv(s, header=None)
    else:
        return flask.Response(
            response="This predictor only supports CSV data", status=415, mimetype="text/plain"
        )
    predictions = ScoringService.predict(data)
    out = io.StringIO()
    pd.DataFrame({"results": predictions}).to_csv(out, header=False, index=False)
    result = out.getvalue()
    return flask.Response(response=result, status=200, mimetype="text/csv")
"""

# The sample's nginx.conf, access log off (see the module docstring).
AWS_NGINX_CONF = """\
worker_processes 1;
daemon off;
pid /tmp/nginx.pid;
error_log /dev/stderr;

events {
  # defaults
}

http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;

  upstream gunicorn {
    server unix:/tmp/gunicorn.sock;
  }

  server {
    listen 8080 deferred;
    client_max_body_size 5m;

    keepalive_timeout 5;
    proxy_read_timeout 1200s;

    location ~ ^/(ping|invocations) {
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header Host $http_host;
      proxy_redirect off;
      proxy_pass http://gunicorn;
    }

    location / {
      return 404 "{}";
    }
  }
}
"""

# The sample's `serve`: nginx and gunicorn (gevent workers, one per CPU) side by side.
AWS_SERVE = """\
import multiprocessing
import os
import signal
import subprocess
import sys

workers = int(os.environ.get("MODEL_SERVER_WORKERS", multiprocessing.cpu_count()))
nginx = subprocess.Popen(["nginx", "-c", "/opt/aws/nginx.conf"])
gunicorn = subprocess.Popen(
    [
        "gunicorn", "--timeout", "60", "-k", "gevent", "-b", "unix:/tmp/gunicorn.sock",
        "-w", str(workers), "--chdir", "/opt/aws", "predictor:app",
    ]
)


def stop(*_):
    for process in (nginx, gunicorn):
        try:
            os.kill(process.pid, signal.SIGTERM)
        except OSError:
            pass
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
pids = {nginx.pid, gunicorn.pid}
while os.wait()[0] not in pids:
    pass
stop()
"""

# The ceiling: gunicorn as the template runs it, answering a constant.
CONSTANT_APP = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/csv"), ("Content-Length", "7")])
    return [b"setosa\\n"]
"""
CEILING_ARGS = [
    "-m", "gunicorn", "-k", "gthread", "--threads", "4", "--keep-alive", "75",
    "--worker-tmp-dir", "/dev/shm", "-b", "0.0.0.0:8080", "--chdir", "/opt", "constant_app:app",
]  # fmt: skip


# A control: the template's own WSGI app (same parsing, same hooks) on the development server
# that Flask's app.run uses (werkzeug run_simple, threaded), to separate the server's share of
# the speedup from the request handling's.
WERKZEUG_SERVE = """\
import sys

sys.path.insert(0, "/opt/easy_sm_base/prediction")
import wsgi
from werkzeug.serving import run_simple

app = wsgi.create_app()
app.loaded.wait()
run_simple("0.0.0.0", 8080, app, threaded=True)
"""


# --------------------------------------------------------------------------------------------
# The load generator (runs in its own process: `serving.py client ...`)
# --------------------------------------------------------------------------------------------
def _request(port: int) -> bytes:
    return (
        b"POST /invocations HTTP/1.1\r\n"
        + f"Host: 127.0.0.1:{port}\r\n".encode()
        + b"Content-Type: text/csv\r\nAccept: text/csv\r\n"
        + f"Content-Length: {len(PAYLOAD)}\r\n\r\n".encode()
        + PAYLOAD
    )


async def _connection_loop(
    port: int, deadline: float, budget: list[int], latencies: list[float], errors: list[str]
) -> None:
    """One client: send, read the whole answer, check it, repeat (reconnect if closed)."""
    request = _request(port)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            if reader is None or writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            close = head.startswith(b"HTTP/1.0")
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                errors.append(head.split(b"\r\n", 1)[0].decode())
            elif body != EXPECTED:
                errors.append(f"unexpected body {body[:40]!r}")
            if close:
                writer.close()
                reader = writer = None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()


async def _load(port: int, concurrency: int, seconds: float, warmup: float) -> dict[str, Any]:
    # Warm-up: connections opened, caches hot; results thrown away.
    warm_deadline = time.perf_counter() + warmup
    await asyncio.gather(
        *(_connection_loop(port, warm_deadline, [10_000], [], []) for _ in range(concurrency))
    )
    latencies: list[float] = []
    errors: list[str] = []
    budget = [MAX_REQUESTS_PER_LEVEL]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_connection_loop(port, deadline, budget, latencies, errors) for _ in range(concurrency))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(fraction: float) -> float:
        if not latencies:
            return float("nan")
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000

    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
    }


def client_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="serving.py client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args(argv)
    result = asyncio.run(_load(args.port, args.concurrency, args.seconds, args.warmup))
    print(json.dumps(result))


def measure(port: int, concurrency: int, seconds: float) -> dict[str, Any]:
    """Run the load generator in a separate process and return its figures."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "client",
            "--port",
            str(port),
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------------------------
# The servers
# --------------------------------------------------------------------------------------------
def run(args: list[str], cwd: Path | None = None, timeout: float = 900) -> str:
    """Run a command (argument list, no shell); its stdout. Its stderr goes to ours."""
    done = subprocess.run(
        args, cwd=cwd, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args)} failed with exit code {done.returncode}")
    return done.stdout.strip()


def easy_sm(*args: str, cwd: Path, timeout: float = 900) -> str:
    return run([sys.executable, "-m", "easy_sm", *args], cwd=cwd, timeout=timeout)


def wait_for_ping(port: int, seconds: float = 120) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"bench: nothing answers GET /ping on 127.0.0.1:{port}")


def prepare_project(workdir: Path, tag: str) -> tuple[Path, str]:
    """init + build + local train of the example app; (project dir, image ref)."""
    project = workdir / "project"
    project.mkdir()
    print("bench: easy_sm init, build and local train of the example app", file=sys.stderr)
    easy_sm("init", "--app-name", APP_NAME, "--python-version", "3.11", "--yes", cwd=project)
    image = easy_sm("--docker-tag", tag, "build", cwd=project).splitlines()[-1]
    easy_sm("--docker-tag", tag, "local", "train", cwd=project)
    return project, image


def build_baseline_image(workdir: Path, base_image: str, tag: str) -> str:
    """The baselines on top of the example image: the original template's Flask server, the
    AWS sample's nginx + gunicorn (gevent) + Flask stack, the constant app (the ceiling)."""
    context = workdir / "baselines"
    context.mkdir()
    files = {
        "flask_serve.py": FLASK_SERVE,
        "werkzeug_serve.py": WERKZEUG_SERVE,
        "constant_app.py": CONSTANT_APP,
        "aws/predictor.py": AWS_PREDICTOR,
        "aws/nginx.conf": AWS_NGINX_CONF,
        "aws/serve.py": AWS_SERVE,
    }
    (context / "aws").mkdir()
    for name, text in files.items():
        (context / name).write_text(text, encoding="utf-8")
    (context / "Dockerfile").write_text(
        textwrap.dedent(
            f"""\
            FROM {base_image}
            RUN apt-get update \\
                && apt-get install -y --no-install-recommends nginx \\
                && rm -rf /var/lib/apt/lists/*
            RUN pip install "flask>=3,<4" "pandas>=2,<3" "gevent>=24" packaging
            COPY flask_serve.py werkzeug_serve.py constant_app.py /opt/
            COPY aws /opt/aws
            ENTRYPOINT ["python"]
            CMD ["/opt/flask_serve.py"]
            """
        ),
        encoding="utf-8",
    )
    image = f"{APP_NAME}-baselines:{tag}"
    print(
        f"bench: docker build {image} (FROM {base_image} + nginx, flask, pandas, gevent)",
        file=sys.stderr,
    )
    run(["docker", "build", "-q", "-t", image, "--label", LABEL, str(context)])
    return image


def start_container(image: str, model_dir: Path, port: int, name: str, *args: str) -> None:
    """Run `python ARGS...` in the baseline image, the model mounted; wait for /ping."""
    run(
        [
            "docker", "run", "-d", "--name", name, "--label", LABEL,
            "-p", f"127.0.0.1:{port}:8080",
            "-v", f"{model_dir}:/opt/ml/model:ro",
            image, *args,
        ]
    )  # fmt: skip
    try:
        wait_for_ping(port)
    except SystemExit:
        subprocess.run(["docker", "logs", "--tail", "30", name], timeout=60, check=False)
        raise


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------
def measure_servers(
    servers: dict[str, int], levels: list[int], seconds: float, rounds: int
) -> dict[str, dict[int, dict[str, Any]]]:
    """Measure every server at every level, `rounds` times interleaved (so that a burst of
    other work on the machine hits all servers alike); per level, the median round."""
    samples: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {level: [] for level in levels} for name in servers
    }
    for round_number in range(1, rounds + 1):
        print(f"bench: round {round_number}/{rounds}", file=sys.stderr, flush=True)
        for level in levels:
            for name, port in servers.items():
                samples[name][level].append(measure(port, level, seconds))
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for name, by_level in samples.items():
        results[name] = {}
        for level, runs in by_level.items():
            median = dict(sorted(runs, key=lambda run: float(run["rps"]))[len(runs) // 2])
            for key in ("p50_ms", "p99_ms"):
                median[key] = statistics.median(float(run[key]) for run in runs)
            median["errors"] = sum(int(run["errors"]) for run in runs)
            median["first_error"] = next((r["first_error"] for r in runs if r["errors"]), None)
            median["requests"] = sum(int(run["requests"]) for run in runs)
            results[name][level] = median
    return results


def print_results(results: dict[str, dict[int, dict[str, Any]]]) -> None:
    for name, by_level in results.items():
        for level, result in by_level.items():
            failed = result["errors"]
            errors = f"  ERRORS {failed}: {result['first_error']}" if failed else ""
            print(
                f"{name:<28} c={level:<3} {result['rps']:>7.0f} req/s   "
                f"p50 {result['p50_ms']:>7.2f} ms   p99 {result['p99_ms']:>7.2f} ms   "
                f"({result['requests']} requests){errors}",
                flush=True,
            )


def cleanup(project: Path | None, containers: list[str], images: list[str], workdir: Path) -> None:
    """Stop what this run started; never touch other containers or images."""

    def quietly(args: list[str], cwd: Path | None = None) -> None:
        subprocess.run(
            args,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )

    if project is not None:
        quietly([sys.executable, "-m", "easy_sm", "local", "stop"], cwd=project)
    for container in containers:
        quietly(["docker", "rm", "-f", container])
    for image in reversed(images):
        quietly(["docker", "rmi", image])
    shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description="easy_sm serve vs the stacks users would pick")
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--keep", action="store_true", help="keep the images afterwards")
    parser.add_argument(
        "--no-control", action="store_true", help="skip the control (wsgi.py on app.run's server)"
    )
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.concurrency.split(",")]
    if 8 not in levels:
        levels.append(8)
    if not 0 < args.seconds <= 60 or not 1 <= args.rounds <= 10:
        raise SystemExit("bench: --seconds must be in (0, 60], --rounds in [1, 10]")
    if not all(0 < level <= 256 for level in levels):
        raise SystemExit("bench: concurrency levels must be in (0, 256]")
    tag = f"bench-{uuid.uuid4().hex[:8]}"
    names = ("flask", "aws", "ceiling", "control")
    containers = {name: f"{APP_NAME}-{name}-{tag}" for name in names}
    workdir = Path(tempfile.mkdtemp(prefix="easy_sm-bench-serving-"))
    project: Path | None = None
    images: list[str] = []
    try:
        project, image = prepare_project(workdir, tag)
        images.append(image)
        baselines = build_baseline_image(workdir, image, tag)
        images.append(baselines)
        model_dir = next(project.glob("*/easy_sm_base/local_test/test_dir/model"))

        ours, flask = "easy_sm serve (gunicorn)", "Flask app.run (original)"
        aws, ceiling = "AWS BYOC nginx+gevent+Flask", "ceiling: gunicorn, constant"
        control = "control: wsgi.py on app.run"
        servers = {ours: free_port()}
        easy_sm("--docker-tag", tag, "local", "deploy", "-p", str(servers[ours]), cwd=project)
        servers[aws] = free_port()
        start_container(baselines, model_dir, servers[aws], containers["aws"], "/opt/aws/serve.py")
        servers[flask] = free_port()
        start_container(
            baselines, model_dir, servers[flask], containers["flask"], "/opt/flask_serve.py"
        )
        servers[ceiling] = free_port()
        workers = ("-w", str(os.cpu_count() or 1))
        start_container(
            baselines, model_dir, servers[ceiling], containers["ceiling"], *CEILING_ARGS, *workers
        )
        if not args.no_control:
            servers[control] = free_port()
            start_container(
                baselines,
                model_dir,
                servers[control],
                containers["control"],
                "/opt/werkzeug_serve.py",
            )

        print(
            f"\nclosed loop from a separate process, keep-alive, one single-record text/csv "
            f"request per round trip; {os.cpu_count()} CPUs; median of {args.rounds} "
            f"interleaved {args.seconds:g} s runs per level"
        )
        results = measure_servers(servers, levels, args.seconds, args.rounds)
        print_results(results)
        if control in results:
            ratio = results[ours][8]["rps"] / results[control][8]["rps"]
            print(f"(control: the server alone, gunicorn vs app.run's, c=8: {ratio:.2f}x)")

        print()
        for level in levels:
            share = results[ours][level]["rps"] / results[ceiling][level]["rps"]
            print(f"c={level:<3} template at {share:6.1%} of the ceiling's req/s")
        for baseline in (aws, flask):
            for level in levels:
                ratio = results[ours][level]["rps"] / results[baseline][level]["rps"]
                worse = results[ours][level]["p99_ms"] > results[baseline][level]["p99_ms"]
                print(
                    f"c={level:<3} vs {baseline:<28} {ratio:5.2f}x   "
                    f"p99 {'WORSE' if worse else 'no worse'}"
                )
        if any(results[name][8]["errors"] for name in results):
            print("bench: requests failed at concurrency 8; the ratios are not meaningful")
        print(f"vs_aws_stack_c8={results[ours][8]['rps'] / results[aws][8]['rps']:.2f}")
        print(f"speedup_c8={results[ours][8]['rps'] / results[flask][8]['rps']:.2f}")
    finally:
        cleanup(project, list(containers.values()), [] if args.keep else images, workdir)


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        client_main(sys.argv[2:])
    else:
        main(sys.argv[1:])
