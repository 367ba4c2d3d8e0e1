"""E-mail over SMTP: a pool of `smtp_connections` connections to one relay, reused message after message.

Each connection is opened when first needed (TLS from the start, STARTTLS, or plain, per `smtp_security`; AUTH when
a username is set) and kept for every later message; one that breaks is opened again for the next. A batch's
messages go out side by side, one transaction per message on whichever connection is free, so all connections
stay busy. The relay answering 4xx, a dropped connection or a timeout is tried again with the HTTP transports'
backoff, up to `delivery_max_attempts`; 5xx for a recipient fails that message with the relay's words (permanent,
`engine.campaigns.failures`). Refused credentials, a refused sender address or a TLS failure are the sender's
problem, not the messages' (`ProviderMisconfigured`). The message's id at the provider is its `Message-ID`, the
same for every retry of it (SMTP has no idempotency keys: a relay that took a message whose answer was lost may
deliver it twice, with one Message-ID that mail clients show once).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from email.utils import parseaddr

import aiohttp
import aiosmtplib

from engine.campaigns.failures import NOT_ACCEPTED
from engine.channels.base import Channel, Outgoing
from engine.channels.mime import email_content, message_id, mime_bytes
from engine.channels.transports.base import Outcome, ProviderMisconfigured
from engine.channels.transports.http import backoff_seconds, send_each
from engine.settings import Settings

_BROKEN = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError)


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
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._clients = [self._client() for _ in range(settings.smtp_connections)]
        for client in self._clients:
            self._idle.put_nowait(client)

    def _client(self) -> aiosmtplib.SMTP:
        settings = self.settings
        return aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            validate_certs=settings.smtp_verify_tls,
            timeout=settings.delivery_request_timeout_s,
        )

    async def send(self, channel: Channel, messages: list[Outgoing]) -> Outcome:
        return await send_each(messages, lambda message: self._send_one(channel, message), len(self._clients))

    async def _send_one(self, channel: Channel, message: Outgoing) -> Outcome:
        data = mime_bytes(email_content(self.settings, channel, message), time.time())
        attempt = 0
        while True:
            attempt += 1
            client = await self._idle.get()
            try:
                refusal = await self._transaction(client, message.address, data)
            except asyncio.CancelledError:
                client.close()  # cut off mid-transaction: the next message starts on a fresh connection
                raise
            finally:
                self._idle.put_nowait(client)
            if refusal is None:
                return Outcome(sent=[(message.log_id, message_id(self.settings, message.key)[1:-1])], attempts=attempt)
            code, problem = refusal
            if code is not None and code >= 500:
                return Outcome(failed=[(message.log_id, mail_server_refusal(code, problem))], attempts=attempt)
            if attempt >= self.settings.delivery_max_attempts:
                reason = f"{NOT_ACCEPTED}{attempt} attempts ({mail_server_refusal(code, problem) if code else problem})"
                return Outcome(failed=[(message.log_id, reason)], attempts=attempt)
            await asyncio.sleep(backoff_seconds(attempt, self.settings))

    async def _transaction(self, client: aiosmtplib.SMTP, to: str, data: bytes) -> tuple[int | None, str] | None:
        """Send one message on `client`; None when the relay took it, else its code (None: no answer) and words."""
        try:
            if not client.is_connected:
                await client.connect()
            await client.sendmail(self.envelope_sender, [to], data)
            return None
        except aiosmtplib.SMTPAuthenticationError as error:
            raise ProviderMisconfigured(
                f"the SMTP relay refused our credentials: {error.code} {error.message}"
            ) from error
        except aiosmtplib.SMTPSenderRefused as error:
            if error.code >= 500:
                raise ProviderMisconfigured(
                    f"the SMTP relay refused the sender {error.sender}: {error.message}"
                ) from error
            await self._reset(client)
            return error.code, error.message
        except ssl.SSLError as error:
            client.close()
            raise ProviderMisconfigured(f"TLS with the SMTP relay failed: {error}") from error
        except aiosmtplib.SMTPRecipientsRefused as error:
            await self._reset(client)
            refused = error.recipients[0]
            return refused.code, refused.message
        except aiosmtplib.SMTPResponseException as error:
            await self._reset(client)
            return error.code, error.message
        except _BROKEN as error:
            client.close()
            return None, type(error).__name__

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        """Clear a refused transaction so the connection can carry the next; close it when even that fails."""
        try:
            await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            client.close()

    async def close(self) -> None:
        for client in self._clients:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()
