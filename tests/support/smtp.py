"""A real SMTP server for tests (aiosmtpd on a free localhost port), with scriptable faults.

`answers` is consumed one per DATA command: "250" accepts, "451 …" / "550 …" refuse, and
"hang" makes the server sit silent longer than the client's timeout (then drop the message).
When the list is empty, messages are accepted. `reject_recipients` refuses RCPT with 550.
`on_data(number)` runs (in a thread of its own, so it may use the database) when DATA command
`number` arrives, before the server answers: the world changing while an email is in flight.
"""

import asyncio
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    envelope_to: list[str]
    message: object  # email.message.EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


@dataclass
class FaultyHandler:
    answers: list[str] = field(default_factory=list)
    reject_recipients: bool = False
    hang_seconds: float = 5.0
    delay_seconds: float = 0.0  # accept, but slowly (simulates a busy server)
    on_data: Callable[[int], None] | None = None
    received: list[Received] = field(default_factory=list)
    data_commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_recipients:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_commands += 1
            number = self.data_commands
            answer = self.answers.pop(0) if self.answers else "250"
        if self.on_data is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.on_data, number)
        if answer == "hang":
            await asyncio.sleep(self.hang_seconds)
            return "451 4.4.2 Timed out"  # the client is long gone; nothing is delivered
        if not answer.startswith("250"):
            return answer
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append(Received(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [r.message_id for r in self.received]


class SMTPServer:
    def __init__(self, handler: FaultyHandler | None = None):
        self.handler = handler or FaultyHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SMTPServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"
