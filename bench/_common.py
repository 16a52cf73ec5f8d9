"""Helpers shared by the benchmark scripts (run as `python bench/NAME.py`, so this folder is
on sys.path): a free loopback port, a moto server in its own process, the easy_sm command."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    """A moto server on 127.0.0.1:`port`, in its own process, once it accepts connections."""
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("moto server did not start")


def easy_sm_command() -> list[str]:
    """How to start the installed easy_sm: its console script, else `python -m easy_sm`."""
    script = shutil.which("easy_sm", path=os.path.dirname(sys.executable)) or shutil.which(
        "easy_sm"
    )
    return [script] if script else [sys.executable, "-m", "easy_sm"]
