"""Helpers for the hostile-client cases of `kumopy serve`: the real command
in a subprocess (under the harness's address-space limit) and a raw-socket
SMTP client that sends exactly the bytes a test gives it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from ._harness import KUMOPY, _limit_address_space

__all__ = ["Client", "Served", "make_cert", "start_serve"]


class Client:
    """A raw SMTP client on a socket: `send` bytes, read `reply()`."""

    def __init__(self, port: int, timeout: float = 20.0, source: str | None = None) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> tuple[int, list[str]]:
        """One reply: (code, text lines without the code)."""
        lines: list[str] = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"closed by the server after {lines!r}")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\r\n", 1)
            line = raw.decode("utf-8", "replace")
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), lines

    def cmd(self, data: bytes) -> tuple[int, str]:
        """Send a command, return (code, text of the first line)."""
        self.send(data)
        code, lines = self.reply()
        return code, lines[0]

    def closed_by_server(self, wait: float = 10.0) -> bool:
        """Whether the server closes the connection (EOF) within `wait`."""
        self.sock.settimeout(wait)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except TimeoutError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class Served:
    """A running `kumopy serve`; its stderr is collected as it comes."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, record: Path) -> None:
        self.proc = proc
        self.port = port
        self.record = record
        self.stderr: list[str] = []
        self.stdout: list[str] = []
        for stream, sink in ((proc.stderr, self.stderr), (proc.stdout, self.stdout)):
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _drain(stream: object, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            sink.append(raw.decode("utf-8", "replace"))

    def client(self, **kwargs: object) -> Client:
        return Client(self.port, **kwargs)  # type: ignore[arg-type]

    def status(self, field: str) -> int:
        """A /proc/<pid>/status field in KiB (VmRSS, VmHWM)."""
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
        return int(m.group(1)) if m else 0

    def normal_transaction(self, tag: str = "ok", body: bytes = b"hello\r\n") -> str:
        """A well-behaved client's whole transaction; returns the 250 text."""
        c = self.client()
        try:
            code, _ = c.reply()
            assert code == 220
            assert c.cmd(b"EHLO normal.example\r\n")[0] == 250
            assert c.cmd(b"MAIL FROM:<alice@good.example>\r\n")[0] == 250
            assert c.cmd(b"RCPT TO:<bob@dest.example>\r\n")[0] == 250
            assert c.cmd(b"DATA\r\n")[0] == 354
            code, text = c.cmd(b"Subject: " + tag.encode() + b"\r\n\r\n" + body + b".\r\n")
            assert code == 250, text
            assert c.cmd(b"QUIT\r\n")[0] == 221
            return text
        finally:
            c.close()

    def stop(self) -> tuple[int, str]:
        """Ctrl-C the server; (exit status, everything it wrote to stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        time.sleep(0.1)
        return self.proc.returncode, "".join(self.stderr)


def start_serve(directory: Path, policy: Path, *args: str) -> Served:
    record = directory / "recorded"
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="")
    env.pop("KUMOMTA_POLICY_EXTRAS", None)
    env.pop("KUMOPY_SHARE_DIR", None)
    proc = subprocess.Popen(
        [*KUMOPY, "serve", str(policy), "--listen", "127.0.0.1:0", "--record", str(record),
         *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        preexec_fn=_limit_address_space,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline().decode("utf-8", "replace")
    m = re.search(r"on 127\.0\.0\.1:(\d+)", first)
    if m is None:
        proc.kill()
        rest = proc.stderr.read().decode("utf-8", "replace")
        raise AssertionError(f"kumopy serve did not start: {first}{rest}")
    served = Served(proc, int(m.group(1)), record)
    served.stderr.append(first)
    return served


def make_cert(directory: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate and key, or None without openssl."""
    if shutil.which("openssl") is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=mx.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


_ = sys  # (kept for ad-hoc debugging of the subprocess)
