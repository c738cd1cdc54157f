"""A real SMTP server (aiosmtpd) on a free port that records every message it accepts, and can be
told to answer the next transactions with an SMTP error (a 4xx to retry, a 5xx to give up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)  # answered instead of "250", one per message
    rcpt_replies: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


class PortZeroController(Controller):
    """aiosmtpd's Controller, bound to port 0: the readiness probe uses the port actually bound."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SmtpServer:
    controller: PortZeroController
    handler: RecordingHandler

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def received(self) -> list[Received]:
        return self.handler.received
