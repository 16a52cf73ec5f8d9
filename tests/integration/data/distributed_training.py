"""A tiny distributed training.py: every host sends the sum of its share of the data over TCP
to the first host, which answers each with the total (a data-parallel reduction).
Hyperparameter `fail_on=algo-K` makes that host fail; `hold=SECONDS` makes every host wait
first. Used by test_multihost.py."""

import json
import os
import socket
import time
from pathlib import Path

PORT = 7777


def train(input_data_path, model_save_path, hyperparameters=None):
    hosts = json.loads(os.environ["SM_HOSTS"])
    me = os.environ["SM_CURRENT_HOST"]
    time.sleep(float((hyperparameters or {}).get("hold", 0)))
    if (hyperparameters or {}).get("fail_on") == me:
        raise RuntimeError(f"boom on {me}")
    mine = sorted(os.listdir(input_data_path))
    value = sum(int((Path(input_data_path) / name).read_text()) for name in mine)
    if me == hosts[0]:
        server = socket.create_server(("", PORT))
        total, peers, conns = value, [], []
        for _ in hosts[1:]:
            conn, _addr = server.accept()
            name, part = conn.recv(1024).decode().split()
            peers.append(name)
            total += int(part)
            conns.append(conn)
        for conn in conns:
            conn.sendall(str(total).encode())
            conn.close()
        with open(os.path.join(model_save_path, "reduced.json"), "w") as handle:
            json.dump({"total": total, "peers": sorted(peers)}, handle)
    else:
        for _ in range(100):
            try:
                conn = socket.create_connection((hosts[0], PORT), timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        conn.sendall(f"{me} {value}".encode())
        total = int(conn.recv(1024).decode())
    env = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
    with open(os.path.join(model_save_path, f"{me}.json"), "w") as handle:
        json.dump({"files": mine, "total": total, "env": env}, handle)
    print(f"{me}: my files {mine}, total {total}", flush=True)
