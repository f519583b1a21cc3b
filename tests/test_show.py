"""`optinc build --show`: the layout reaches a KLayout listening with klive, or the user is told it did not."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
import yaml

KLIVE_PORT = 8082  # klive's fixed port, which kfactory's client connects to


def _port_free() -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", KLIVE_PORT))
        except OSError:
            return False
    return True


@pytest.fixture
def small_scenario(tmp_path) -> Path:
    path = tmp_path / "tinyshow.yml"
    path.write_text(yaml.safe_dump({"name": "tinyshow", "bits": 4, "servers": 2, "widths": [2, 4, 2],
                                    "approx_layers": [1]}))
    return path


class FakeKlive:
    """Accepts one connection, records the JSON line it gets and answers like klive does."""

    def __init__(self):
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", KLIVE_PORT))
        self.server.listen(1)
        self.server.settimeout(60)
        self.received: dict | None = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.received = json.loads(data)
            answer = {"type": "open", "version": "0.3.3", "klayout_version": "0.30.1", "file": self.received["gds"]}
            conn.sendall(json.dumps(answer).encode())

    def close(self) -> None:
        self.thread.join(timeout=60)
        self.server.close()


@pytest.mark.skipif(not _port_free(), reason="something already listens on klive's port 8082 here")
def test_show_sends_the_oasis_file_to_klive(run_cli, small_scenario, tmp_path):
    klive = FakeKlive()
    try:
        code, out, err = run_cli(["build", small_scenario, "--random-weights", "1", "--no-png", "-o", tmp_path / "out", "--show"])
    finally:
        klive.close()
    assert code == 0, err
    assert klive.received is not None
    sent = Path(klive.received["gds"])
    assert sent == (tmp_path / "out" / "tinyshow.oas").resolve() and sent.is_file()
    assert "sent" in out and "klive" in out


@pytest.mark.skipif(not _port_free(), reason="something already listens on klive's port 8082 here")
def test_show_without_klayout_says_so_and_still_succeeds(run_cli, small_scenario, tmp_path):
    code, out, err = run_cli(["build", small_scenario, "--random-weights", "1", "--no-png", "-o", tmp_path / "out", "--show"])
    assert code == 0, err
    assert "no KLayout with klive listening" in out
    assert (tmp_path / "out" / "tinyshow.oas").is_file()
