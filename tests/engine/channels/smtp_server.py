"""A real SMTP server on loopback (aiosmtpd) standing in for a relay: it keeps what it accepts, can require
STARTTLS and AUTH, and refuses the recipients it is told to, the way relays answer.

Run alone (`python -m tests.engine.channels.smtp_server PORT`) it only counts what it accepts, for the delivery
benchmark, in a process of its own.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Mailbox:
    """What the relay accepted, and its rules: `refuse` maps a recipient to the reply its RCPT gets (a 4xx reply
    is given once, then the recipient is accepted, like greylisting); `refuse_content` maps a recipient to the
    reply to its message's content (a content filter saying no); after `hang_up_after` messages the relay takes
    one more and hangs up without answering (once)."""

    refuse: dict[str, str] = field(default_factory=dict)
    refuse_content: dict[str, str] = field(default_factory=dict)
    hang_up_after: int | None = None
    pipelining: bool = True  # offer PIPELINING (RFC 2920), as real relays do
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    peers: set[Any] = field(default_factory=set)  # one per connection that carried a message
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]] if self.pipelining else responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        reply = self.refuse.get(address)
        if reply is not None and not (reply.startswith("4") and address in self.refused):
            self.refused.append(address)
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        refusal = self.refuse_content.get(envelope.rcpt_tos[0])
        if refusal is not None:
            return refusal
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
            self.peers.add(session.peer)
            hang_up = len(self.messages) == self.hang_up_after
        if hang_up:
            self.hang_up_after = None
            server.transport.close()  # the message was taken, but its sender never hears so
        return "250 2.0.0 Ok: queued"


def self_signed_context(directory: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "relay.crt", directory / "relay.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


@contextmanager
def smtp_relay(
    mailbox: Mailbox,
    *,
    tls: ssl.SSLContext | None = None,
    implicit_tls: bool = False,
    login: tuple[str, str] | None = None,
) -> Iterator[int]:
    """Run a relay delivering into `mailbox` on a free loopback port; yields the port. With `tls`, STARTTLS is
    required (or, with `implicit_tls`, TLS from the first byte); with `login`, AUTH with those credentials."""
    options: dict[str, Any] = {}
    if tls is not None and implicit_tls:
        options["ssl_context"] = tls
    elif tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    if login is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            given = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=given, handled=False)  # unhandled: the server answers 535 itself

        options.update(authenticator=authenticate, auth_required=True, auth_require_tls=tls is not None)
    with socket.socket() as probe:  # a free port (the controller checks it is up by connecting to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


if __name__ == "__main__":
    counted = Mailbox()
    with smtp_relay(counted) as port:
        print(port, flush=True)
        sys.stdin.read()  # until the benchmark closes our stdin
    print(len(counted.messages), flush=True)
