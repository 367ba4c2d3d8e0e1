"""One SMTP client connection, written for sending many messages one after another as cheaply as the protocol
allows.

A general client (aiosmtplib) sends each command and waits for its answer: four writes and four reads per
message, and each write to a loopback relay costs a system call that wakes the other side. Relays that advertise
`PIPELINING` (RFC 2920: Postfix, Exim, Exchange and every sending provider's SMTP endpoint) take `MAIL FROM`,
`RCPT TO` and `DATA` in one write, so a message costs two writes and two reads: the envelope, then the content
once the relay answered `354`. Without `PIPELINING` the commands go one by one, as RFC 5321 asks.

The connection speaks only what a sender needs: `EHLO` (falling back to `HELO`), `STARTTLS` or TLS from the first
byte, `AUTH PLAIN` or `AUTH LOGIN`, one recipient per transaction, `RSET` after a refusal and `QUIT`. A refusal
is an answer (`Refusal`, with the relay's code and words); a connection that breaks, times out or answers
nonsense raises `ConnectionLost`; credentials, the sender address or TLS that the relay refuses raise
`SenderRefused`, which is the sender's problem, not the message's.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Literal

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True)
class Reply:
    """An answer of the relay: its code and its words (the lines of a multi-line answer joined)."""

    code: int
    text: str

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 400


@dataclass(frozen=True)
class Refusal:
    """The relay refused a message: at which command, with what code (4xx: try later; 5xx: for good) and words."""

    command: str
    reply: Reply


class ConnectionLost(Exception):
    """The connection broke, timed out or answered what SMTP does not allow; open a new one for the next message.
    `settled`: what became of the messages of `send_all` settled before."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.settled: list[Refusal | None] = []


class SenderRefused(Exception):
    """The relay refused the sender itself (credentials, the envelope sender, TLS): no message can go out."""


@dataclass(frozen=True)
class RelayAddress:
    """Where the relay is and how to talk to it."""

    host: str
    port: int
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    verify_tls: bool = True
    timeout_s: float = 30.0


@cache
def _our_name() -> str:
    """The name this host gives in `EHLO` (its fully qualified name, as RFC 5321 asks)."""
    return socket.getfqdn() or "localhost"


def dot_stuffed(data: bytes) -> bytes:
    """`data` as `DATA` carries it: lines that start with a dot get another (RFC 5321 4.5.2), CRLF at the end,
    then the line with the lone dot that ends it."""
    if data.startswith(b"."):
        data = b"." + data
    data = data.replace(b"\r\n.", b"\r\n..")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


_CONTENT, _IGNORED, _RESET = "content", "ignored", "RSET"  # what an answer owed by the relay is for


def _envelope(sender: str, recipient: str) -> bytes:
    return f"MAIL FROM:<{sender}>\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode()


def _envelope_refusal(sender: str, mail: Reply, rcpt: Reply, data: Reply) -> Refusal | None:
    """What the answers to an envelope say: None when the relay waits for the content (354), else the refusal.
    A refused sender address (5xx) is the sender's problem: `SenderRefused`."""
    if not mail.positive:
        if mail.code >= 500:
            raise SenderRefused(f"the SMTP relay refused the sender {sender}: {mail.code} {mail.text}")
        return Refusal("MAIL FROM", mail)
    if not rcpt.positive:
        return Refusal("RCPT TO", rcpt)
    return None if data.code == 354 else Refusal("DATA", data)


class SmtpConnection:
    """An open, greeted (and, where asked, encrypted and authenticated) connection to a relay."""

    def __init__(self, relay: RelayAddress, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.relay = relay
        self._reader, self._writer = reader, writer
        self.extensions: dict[str, str] = {}

    @classmethod
    async def open(cls, relay: RelayAddress) -> SmtpConnection:
        """Connect, read the greeting, introduce ourselves, start TLS and log in as `relay` asks."""
        context = cls._tls_context(relay) if relay.security != "none" else None
        try:
            async with asyncio.timeout(relay.timeout_s):
                reader, writer = await asyncio.open_connection(
                    relay.host, relay.port, ssl=context if relay.security == "tls" else None
                )
        except ssl.SSLError as error:
            raise SenderRefused(f"TLS with the SMTP relay failed: {error}") from error
        except (OSError, TimeoutError) as error:
            raise ConnectionLost(f"cannot connect to the SMTP relay: {type(error).__name__}") from error
        connection = cls(relay, reader, writer)
        try:
            async with connection._deadline():
                await connection._greet(context)
        except BaseException:
            connection.close()
            raise
        return connection

    @staticmethod
    def _tls_context(relay: RelayAddress) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not relay.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def _greet(self, context: ssl.SSLContext | None) -> None:
        greeting = await self._read_reply()
        if greeting.code != 220:
            raise ConnectionLost(f"the SMTP relay does not take mail now ({greeting.code}): {greeting.text}")
        await self._hello()
        if self.relay.security == "starttls":
            assert context is not None
            if "STARTTLS" not in self.extensions:
                raise SenderRefused("the SMTP relay does not offer STARTTLS (set XENO_SMTP_SECURITY)")
            await self._expect(b"STARTTLS\r\n", 220)
            await self._writer.start_tls(context, server_hostname=self.relay.host)  # its failure: `_deadline`
            await self._hello()  # what the relay offers may change once the connection is encrypted
        if self.relay.username is not None:
            await self._log_in(self.relay.username, self.relay.password or "")

    async def _hello(self) -> None:
        reply = await self._command(f"EHLO {_our_name()}\r\n".encode())
        if reply.code == 250:
            lines = reply.text.split("\n")[1:]  # the first line is the relay's name
            self.extensions = {
                keyword.upper(): rest for keyword, _, rest in (line.strip().partition(" ") for line in lines)
            }
            return
        await self._expect(f"HELO {_our_name()}\r\n".encode(), 250)
        self.extensions = {}

    async def _log_in(self, username: str, password: str) -> None:
        mechanisms = self.extensions.get("AUTH", "").upper().split()
        if "PLAIN" in mechanisms or not mechanisms:
            token = base64.b64encode(f"\0{username}\0{password}".encode()).decode()
            reply = await self._command(f"AUTH PLAIN {token}\r\n".encode())
        elif "LOGIN" in mechanisms:
            reply = await self._command(b"AUTH LOGIN\r\n")
            for answer in (username, password):
                if reply.code != 334:
                    break
                reply = await self._command(base64.b64encode(answer.encode()) + b"\r\n")
        else:
            raise SenderRefused(f"the SMTP relay offers no login we speak (it offers {' '.join(mechanisms)})")
        if reply.code != 235:
            raise SenderRefused(f"the SMTP relay refused our credentials: {reply.code} {reply.text}")

    async def send_all(self, sender: str, messages: Sequence[tuple[str, bytes]]) -> list[Refusal | None]:
        """Send `messages` (recipient, MIME message with CRLF line ends) from `sender`, one after another; for
        each, None when the relay took it, else where and how it refused it. With PIPELINING a message's content
        goes in one write with the next one's envelope (RFC 2920 allows content first in a group), so a message
        costs one write and one wait. A connection that breaks raises `ConnectionLost` carrying the results of
        the messages settled before it broke (`settled`); the others may or may not have been taken."""
        results: list[Refusal | None] = []
        try:
            if "PIPELINING" in self.extensions:
                await self._pipelined(sender, messages, results)
            else:
                for recipient, data in messages:
                    async with self._deadline():
                        results.append(await self._one_by_one(sender, recipient, data))
        except ConnectionLost as lost:
            lost.settled = results
            raise
        return results

    async def _pipelined(
        self, sender: str, messages: Sequence[tuple[str, bytes]], results: list[Refusal | None]
    ) -> None:
        ahead, owed = b"", list[str]()  # what goes before the next envelope, and the answers it will bring
        for recipient, data in messages:
            async with self._deadline():
                self._writer.write(ahead + _envelope(sender, recipient))
                await self._collect(owed, results)
                mail, rcpt, data_reply = [await self._read_reply() for _ in range(3)]
            refusal = _envelope_refusal(sender, mail, rcpt, data_reply)
            if refusal is None:
                ahead, owed = dot_stuffed(data), [_CONTENT]
                continue
            results.append(refusal)
            ahead, owed = (b".\r\n", [_IGNORED]) if data_reply.code == 354 else (b"", [])
            if mail.positive:  # the refused transaction is still open
                ahead, owed = ahead + b"RSET\r\n", [*owed, _RESET]
        if ahead:
            async with self._deadline():
                self._writer.write(ahead)
                await self._collect(owed, results)

    async def _collect(self, owed: list[str], results: list[Refusal | None]) -> None:
        """Read the answers to what went ahead of an envelope: a message's content settles that message."""
        for what in owed:
            reply = await self._read_reply()
            if what == _CONTENT:
                results.append(None if reply.code == 250 else Refusal("end of data", reply))
            elif what == _RESET and reply.code != 250:
                raise ConnectionLost(f"the SMTP relay answered RSET with {reply.code} {reply.text}")

    async def _one_by_one(self, sender: str, recipient: str, data: bytes) -> Refusal | None:
        """One transaction for a relay without PIPELINING: each command waits for the answer to the one before."""
        mail_command, rcpt_command, data_command = _envelope(sender, recipient).splitlines(keepends=True)
        mail = await self._command(mail_command)
        rcpt = await self._command(rcpt_command) if mail.positive else mail
        data_reply = await self._command(data_command) if rcpt.positive else rcpt
        refusal = _envelope_refusal(sender, mail, rcpt, data_reply)
        if refusal is None:
            taken = await self._command(dot_stuffed(data))
            return None if taken.code == 250 else Refusal("end of data", taken)
        if mail.positive:
            await self._reset()
        return refusal

    async def _reset(self) -> None:
        await self._expect(b"RSET\r\n", 250)

    async def quit(self) -> None:
        """Say goodbye and close; a relay that does not answer is closed all the same."""
        try:
            async with self._deadline():
                await self._command(b"QUIT\r\n")
        except ConnectionLost:
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._writer.close()

    async def _expect(self, command: bytes, code: int) -> Reply:
        reply = await self._command(command)
        if reply.code != code:
            raise ConnectionLost(
                f"the SMTP relay answered {command.split()[0].decode()} with {reply.code} {reply.text}"
            )
        return reply

    async def _command(self, command: bytes) -> Reply:
        self._writer.write(command)
        return await self._read_reply()

    @asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        """Bound one exchange (the greeting, a message, the goodbye) by the relay's timeout; a connection that
        breaks or stalls within it is lost."""
        try:
            async with asyncio.timeout(self.relay.timeout_s):
                yield
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as error:
            raise ConnectionLost(f"the SMTP relay connection broke: {type(error).__name__}") from error
        except OSError as error:
            if isinstance(error, ssl.SSLError):
                raise SenderRefused(f"TLS with the SMTP relay failed: {error}") from error
            raise ConnectionLost(f"the SMTP relay connection broke: {type(error).__name__}") from error

    async def _read_reply(self) -> Reply:
        """The next answer, all its lines (`250-...` continues, `250 ...` ends)."""
        lines: list[str] = []
        while True:
            line = await self._reader.readuntil(b"\n")
            if len(line) < 4 or not line[:3].isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
                raise ConnectionLost(f"the SMTP relay answered what SMTP does not allow: {line[:80]!r}")
            lines.append(line[4:].decode("utf-8", "replace").strip())
            if line[3:4] != b"-":
                return Reply(int(line[:3]), "\n".join(lines))
