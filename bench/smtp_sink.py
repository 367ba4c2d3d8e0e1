"""An SMTP server that takes every message and keeps only a count: the relay of the delivery benchmark.

The benchmark measures our sender, so the relay must not be what limits it. aiosmtpd, the server the tests use,
spends about 0.5 ms of CPU per message (a coroutine per command, a write per answer), which caps a loopback run
near 2,000 messages a second whatever the client does; the relays people send through (Postfix, a provider's
SMTP endpoint) are written in C and spend a small fraction of that. This one, like Postfix's `smtp-sink`, speaks
just enough SMTP for a sender (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, offering PIPELINING) and answers
all the commands that arrived together in one write, as pipelining relays do.

Run it alone: `python -m bench.smtp_sink` prints its port, then, when its standard input closes, how many
messages it accepted.
"""

from __future__ import annotations

import asyncio
import sys

EHLO_REPLY = b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
END_OF_DATA = b"\r\n.\r\n"
REPLIES = {
    b"HELO": b"250 sink\r\n",
    b"MAIL": b"250 2.1.0 Ok\r\n",
    b"RCPT": b"250 2.1.5 Ok\r\n",
    b"RSET": b"250 2.0.0 Ok\r\n",
    b"NOOP": b"250 2.0.0 Ok\r\n",
}


class SinkSession(asyncio.Protocol):
    """One client's connection: commands line by line, or, after `DATA`, a message up to its lone dot."""

    accepted = 0  # messages taken, by every connection

    def __init__(self) -> None:
        self.buffer = b""
        self.in_data = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        replies: list[bytes] = []
        while True:
            if self.in_data:
                # The message began just after DATA's line end, so its end is a line with a lone dot.
                end = 0 if self.buffer.startswith(b".\r\n") else self.buffer.find(END_OF_DATA)
                if end < 0:
                    break
                self.buffer = self.buffer[end + (3 if end == 0 else len(END_OF_DATA)) :]
                self.in_data = False
                SinkSession.accepted += 1
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                break
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                replies.append(EHLO_REPLY)
            elif verb == b"DATA":
                replies.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                self.in_data = True
            elif verb == b"QUIT":
                replies.append(b"221 2.0.0 Bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            else:
                replies.append(REPLIES.get(verb, b"500 5.5.2 Error: command not recognized\r\n"))
        if replies:
            self.transport.write(b"".join(replies))


async def serve() -> None:
    server = await asyncio.get_running_loop().create_server(SinkSession, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.to_thread(sys.stdin.read)  # until the benchmark closes our standard input
    server.close()
    print(SinkSession.accepted, flush=True)


if __name__ == "__main__":
    asyncio.run(serve())
