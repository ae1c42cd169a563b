"""Work spread over a server's processes and threads: new connections to the worker holding fewest,
large score calls of one process one at a time."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

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


def test_large_calls_of_one_process_take_turns(tmp_path, make_keys, soft_skills_document, monkeypatch):
    """Large score calls arriving together wait for each other (one at a time per process),
    a small call does not wait for them, and every reply is the one a lone call gets;
    a large call with a bad code still gets its 422 naming respondent and item."""
    import httpx
    import numpy as np

    from psychometrics.instrument import Instrument
    from psychometrics.service import Settings, create_app
    from psychometrics.service.routers.banks import INLINE_BYTES

    url = f"sqlite:///{tmp_path / 'store.db'}"
    key = make_keys(url, "acme")["acme"]
    app = create_app(Settings(database_url=url, rate_limit=0))
    items = Instrument.bundled("soft-skills-7").item_ids
    rng = np.random.default_rng(5)

    def body(n: int, tag: str) -> dict:
        codes = rng.integers(1, 6, size=(n, len(items)))
        return {"responses": [{"respondent": f"{tag}{i}", "answers": dict(zip(items, map(int, row)))}
                              for i, row in enumerate(codes)]}

    large = [body(300, f"L{k}-") for k in range(3)]
    small = body(2, "s")
    bad = body(300, "B")
    bad["responses"][7]["answers"][items[3]] = 9

    from psychometrics.service.routers import banks

    active, most = [0], [0]
    lock = threading.Lock()
    score_table = banks.score_table

    def watched(bank, respondents, **kwargs):
        large_call = len(respondents) > 20
        with lock:
            active[0] += large_call
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.05 * large_call)  # long enough for a second large call to start, were it let
            return score_table(bank, respondents, **kwargs)
        finally:
            with lock:
                active[0] -= large_call

    monkeypatch.setattr(banks, "score_table", watched)

    async def main() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
                created = await client.post("/v1/banks", json=soft_skills_document)
                path = f"/v1/banks/{created.json()['id']}/score"
                alone = [(await client.post(path, json=b)).json() for b in (*large, small)]
                assert len(httpx.Request("POST", "/", json=large[0]).content) > INLINE_BYTES
                together = await asyncio.gather(*(client.post(path, json=b) for b in (*large, small, bad)))
        assert [r.status_code for r in together] == [200, 200, 200, 200, 422]
        assert most[0] == 1
        assert [r.json() for r in together[:4]] == alone
        message = together[4].json()["detail"][0]["msg"]  # the instrument's own check names them
        assert "respondent 'B7'" in message and f"item '{items[3]}'" in message

    asyncio.run(main())
