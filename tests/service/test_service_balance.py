"""Worker processes that share a listening socket take new connections in turn, the least busy first."""

from __future__ import annotations

import asyncio
import os
import socket

from psychometrics.service.balance import BalancedServer, balanced_loop


class Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data.upper())  # type: ignore[attr-defined]


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound only, as uvicorn's parent process hands it over
    return sock


def test_the_balanced_loop_serves_a_given_socket():
    """``create_server(sock=...)`` (what uvicorn calls in a worker) serves through the
    balanced accept loop; closing stops it."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sock = listening_socket()
        server = await loop.create_server(Echo, sock=sock, backlog=16)
        assert isinstance(server, BalancedServer) and server.sockets == (sock,)
        replies, writers = [], []
        for word in (b"one", b"two", b"three"):
            reader, writer = await asyncio.open_connection(*sock.getsockname())
            writer.write(word)
            writers.append(writer)
            replies.append(await asyncio.wait_for(reader.read(100), 5))
        assert replies == [b"ONE", b"TWO", b"THREE"]
        assert server.open_connections() == 3
        for writer in writers:
            writer.close()
            await writer.wait_closed()
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)
        sock.close()

    loop = balanced_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_connections_go_to_the_worker_holding_fewest():
    """Two servers on one listening socket (as two workers): four connections opened one
    after another end up two and two, however the wake-ups fall."""

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        sock = listening_socket()
        twin = socket.socket(fileno=os.dup(sock.fileno()))  # the other worker's copy
        servers = [BalancedServer(loop, Echo, sock, 16), BalancedServer(loop, Echo, twin, 16)]
        writers = []
        for _ in range(4):
            _, writer = await asyncio.open_connection(*sock.getsockname())
            writers.append(writer)
            await asyncio.sleep(0.05)
        held = [server.open_connections() for server in servers]
        for writer in writers:
            writer.close()
        for server in servers:
            server.close()
            await server.wait_closed()
        sock.close()
        twin.close()
        return held

    loop = balanced_loop()
    try:
        assert loop.run_until_complete(main()) == [2, 2]
    finally:
        loop.close()


def test_other_servers_are_the_loops_own():
    """Without a given socket (or with TLS) ``create_server`` is the event loop's own."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Echo, "127.0.0.1", 0)
        assert not isinstance(server, BalancedServer)
        server.close()
        await server.wait_closed()

    loop = balanced_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
