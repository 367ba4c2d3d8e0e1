"""E-mail over SMTP: a pool of `smtp_connections` connections to one relay, reused message after message.

Each connection is opened when first needed (TLS from the start, STARTTLS, or plain, per `smtp_security`; AUTH when
a username is set) and kept for every later message; one that breaks is opened again for the next. A batch's
messages go out side by side, one transaction per message on whichever connection is free, so all connections
stay busy; with a relay that offers `PIPELINING` each transaction is two writes (`smtp_client`). The relay answering
4xx, a dropped connection or a timeout is tried again with the HTTP transports' backoff, up to
`delivery_max_attempts`; 5xx for a recipient fails that message with the relay's words (permanent,
`engine.campaigns.failures`). Refused credentials, a refused sender address or a TLS failure are the sender's
problem, not the messages' (`ProviderMisconfigured`). The message's id at the provider is its `Message-ID`, the
same for every retry of it (SMTP has no idempotency keys: a relay that took a message whose answer was lost may
deliver it twice, with one Message-ID that mail clients show once).
"""

from __future__ import annotations

import asyncio
import time
from email.utils import parseaddr

import aiohttp

from engine.campaigns.failures import NOT_ACCEPTED
from engine.channels.base import Channel, Outgoing
from engine.channels.mime import email_content, message_id, mime_bytes
from engine.channels.transports.base import Outcome, ProviderMisconfigured
from engine.channels.transports.http import backoff_seconds, send_each
from engine.channels.transports.smtp_client import (
    ConnectionLost,
    RelayAddress,
    SenderRefused,
    SmtpConnection,
)
from engine.settings import Settings, revealed

RUN = 50  # messages one connection sends back to back (pipelined) before another batch's can have it


def mail_server_refusal(code: int, text: str) -> str:
    """The reason of a message the relay refused (4xx transient, 5xx permanent)."""
    return f"refused by the mail server ({code}): {text}"


class SmtpTransport:
    """A pool of SMTP connections to the relay in the settings."""

    name = "smtp"
    required: tuple[str, ...] = ()

    def __init__(self, settings: Settings, session: aiohttp.ClientSession | None = None) -> None:
        self.settings = settings
        self.envelope_sender = parseaddr(settings.email_from)[1]
        self.relay = RelayAddress(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=revealed(settings.smtp_password),
            verify_tls=settings.smtp_verify_tls,
            timeout_s=settings.delivery_request_timeout_s,
        )
        self._pool_size = settings.smtp_connections
        self._idle: asyncio.Queue[SmtpConnection | None] = asyncio.Queue()
        for _ in range(self._pool_size):
            self._idle.put_nowait(None)  # a free place in the pool, connected when first used

    async def send(self, channel: Channel, messages: list[Outgoing]) -> Outcome:
        size = min(RUN, -(-len(messages) // self._pool_size))  # every connection gets a share of a small batch
        runs = [messages[start : start + size] for start in range(0, len(messages), size)]
        return await send_each(runs, lambda run: self._send_run(channel, run), self._pool_size)

    async def _send_run(self, channel: Channel, run: list[Outgoing]) -> Outcome:
        """Send `run` back to back on one free connection, and again, after a pause, those the relay put off."""
        now = time.time()
        pending = [(message, mime_bytes(email_content(self.settings, channel, message), now)) for message in run]
        outcome, attempt = Outcome(), 0
        while pending:
            attempt += 1
            put_off = []
            for (message, data), refusal in zip(pending, await self._on_free_connection(pending), strict=True):
                if refusal is None:
                    outcome.sent.append((message.log_id, message_id(self.settings, message.key)[1:-1]))
                    continue
                code, problem = refusal
                if code is not None and code >= 500:
                    outcome.failed.append((message.log_id, mail_server_refusal(code, problem)))
                elif attempt >= self.settings.delivery_max_attempts:
                    words = mail_server_refusal(code, problem) if code else problem
                    outcome.failed.append((message.log_id, f"{NOT_ACCEPTED}{attempt} attempts ({words})"))
                else:
                    put_off.append((message, data))
            pending = put_off
            if pending:
                await asyncio.sleep(backoff_seconds(attempt, self.settings))
        outcome.attempts = attempt
        return outcome

    async def _on_free_connection(self, messages: list[tuple[Outgoing, bytes]]) -> list[tuple[int | None, str] | None]:
        """Send `messages` on the next free connection: for each, None when the relay took it, else the relay's
        code (None: no answer) and words."""
        connection = await self._idle.get()
        unanswered: list[tuple[int | None, str] | None] = []
        try:
            if connection is None:
                connection = await SmtpConnection.open(self.relay)
            refusals = await connection.send_all(self.envelope_sender, [(m.address, data) for m, data in messages])
        except BaseException as error:
            if connection is not None:
                connection.close()  # broken, refused or cut off mid-message: the next run opens a new one
            connection = None
            if isinstance(error, SenderRefused):
                raise ProviderMisconfigured(str(error)) from error
            if not isinstance(error, ConnectionLost):
                raise
            refusals = error.settled
            unanswered = [(None, str(error))] * (len(messages) - len(error.settled))
        finally:
            self._idle.put_nowait(connection)
        answered = [None if refusal is None else (refusal.reply.code, refusal.reply.text) for refusal in refusals]
        return [*answered, *unanswered]

    async def close(self) -> None:
        while not self._idle.empty():
            connection = self._idle.get_nowait()
            if connection is not None:
                await connection.quit()
