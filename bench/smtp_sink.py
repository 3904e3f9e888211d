"""The reminders benchmark's mail server: a real SMTP server in a process of its own that
accepts every message and notes its Message-ID, from which duplicates and losses are counted.

It stands in for the clinic's mail relay, which runs on another machine. Here it shares the
benchmark's two CPUs with the worker and PostgreSQL, so it is kept lean: a thread per
connection reading lines (the worker keeps its connection open), instead of aiosmtpd in the
benchmark's own process, which took about 1.5 ms of CPU a message on this machine — as much as
the worker's own sending — and so measured the sink as much as the clinic. The tests keep
aiosmtpd (tests/sessions), where the protocol's corners matter more than its speed.

Run as a script: `python bench/smtp_sink.py PORT IDS_FILE`; each accepted message's
Message-ID is appended to IDS_FILE as one line, written before the 250 reply.
"""

from __future__ import annotations

import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


class _Session(socketserver.StreamRequestHandler):
    """One SMTP connection: EHLO, then MAIL / RCPT / DATA for each message, until QUIT."""

    def reply(self, line: bytes) -> None:
        self.wfile.write(line + b"\r\n")

    def handle(self) -> None:
        self.reply(b"220 bench-sink ESMTP")
        while line := self.rfile.readline():
            command = line[:4].upper()
            if command == b"EHLO":
                self.wfile.write(b"250-bench-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
            elif command in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                self.reply(b"250 OK")
            elif command == b"DATA":
                self.reply(b"354 End data with <CR><LF>.<CR><LF>")
                self.server.received(self._message_id())
                self.reply(b"250 OK")
            elif command == b"QUIT":
                self.reply(b"221 Bye")
                return
            else:
                self.reply(b"502 Command not implemented")

    def _message_id(self) -> bytes:
        message_id, in_headers = b"", True
        while (line := self.rfile.readline()) and line != b".\r\n":
            if in_headers:
                if line == b"\r\n":
                    in_headers = False
                elif line[:11].lower() == b"message-id:":
                    message_id = line[11:].strip()
        return message_id


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, ids_path: Path):
        super().__init__(("127.0.0.1", port), _Session)
        self.ids = ids_path.open("ab", buffering=0)
        self.lock = threading.Lock()

    def received(self, message_id: bytes) -> None:
        with self.lock:
            self.ids.write(message_id + b"\n")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """`with SmtpSink() as sink:` a sink process listening at `sink.url`."""

    def __enter__(self):
        port = _free_port()
        self.directory = tempfile.TemporaryDirectory(prefix="bench-smtp-sink-")
        self.ids_path = Path(self.directory.name) / "message-ids"
        self.ids_path.write_bytes(b"")
        self.process = subprocess.Popen([sys.executable, __file__, str(port),
                                         str(self.ids_path)])
        self.url = f"smtp://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:  # until it answers
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    if probe.recv(64).startswith(b"220"):
                        probe.sendall(b"QUIT\r\n")
                        break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the SMTP sink did not start") from None
                time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.directory.cleanup()

    def message_ids(self) -> list[str]:
        return [line.decode() for line in self.ids_path.read_bytes().splitlines()]


if __name__ == "__main__":
    server = _Server(int(sys.argv[1]), Path(sys.argv[2]))
    server.serve_forever()
