"""A local SMTP server (aiosmtpd) that keeps who each message was for and its Message-ID: the
reminders benchmark counts duplicates and losses from it."""

import socket
import threading
from email.parser import BytesHeaderParser

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self):
        self.lock = threading.Lock()
        self.rcpts: list[str] = []
        self.message_ids: list[str] = []
        self.parser = BytesHeaderParser()

    async def handle_DATA(self, server, session, envelope):
        message_id = self.parser.parsebytes(envelope.original_content or envelope.content)[
            "Message-ID"] or ""
        with self.lock:
            self.rcpts.extend(envelope.rcpt_tos)
            self.message_ids.append(message_id.strip())
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

    def message_ids(self) -> list[str]:
        with self.handler.lock:
            return list(self.handler.message_ids)
