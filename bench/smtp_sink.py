"""A local SMTP server (aiosmtpd) that keeps who each message was for: the reminders
benchmark counts duplicates and losses from it."""

import socket
import threading

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self):
        self.lock = threading.Lock()
        self.rcpts: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.rcpts.extend(envelope.rcpt_tos)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    def __enter__(self):
        self.handler = _Handler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=_free_port())
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.controller.port}"
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def recipients(self) -> list[str]:
        with self.handler.lock:
            return list(self.handler.rcpts)
