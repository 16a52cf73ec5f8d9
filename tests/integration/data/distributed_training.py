"""A tiny distributed training.py: every host sends its name over TCP to the first host,
which answers each with the sum of the values it received, as a data-parallel reduction
would. Used by tests/integration/test_multihost.py (and shown in the README)."""

import json
import os
import socket
import time

PORT = 7777


def train(input_data_path, model_save_path, hyperparameters=None):
    hosts = json.loads(os.environ["SM_HOSTS"])
    me = os.environ["SM_CURRENT_HOST"]
    mine = sorted(os.listdir(input_data_path))
    value = sum(int(open(os.path.join(input_data_path, f)).read()) for f in mine)
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
    with open(os.path.join(model_save_path, f"{me}.json"), "w") as handle:
        json.dump({"files": mine, "total": total}, handle)
    print(f"{me}: my files {mine}, total {total}", flush=True)
