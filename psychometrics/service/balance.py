"""Connections spread over the worker processes of ``psychometrics serve --workers N``.

The workers share one listening socket, and the kernel wakes every worker for a new
connection; the first to run accepts it, and then every other connection already waiting.
A client that opens a few keep-alive connections at once (the usual batch client) then
finds them all in one worker, and one core scores while the other idles: measured, all
four connections of the batch benchmark went to the same worker in six runs of six.

Here a worker accepts at once only while it holds no open connection; holding ``k``, it
waits ``k`` times :data:`STEP_SECONDS` (at most :data:`MAX_WAIT_SECONDS`) before it tries,
so a new connection goes to the worker holding the fewest (the others find it taken and
wait for the next one). Only the accept waits, and only in a worker that already serves
others: a request on an open connection is served as before. The event loop is the
one uvicorn would use (uvloop when installed), with ``create_server`` on a given socket
replaced by this accept loop; everything else is the loop's own.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

__all__ = ["balanced_loop", "BalancedServer", "STEP_SECONDS", "MAX_WAIT_SECONDS"]

#: A worker holding ``k`` open connections waits ``k`` times this long before accepting one
#: (a worker woken at the same moment and holding fewer runs well within it) ...
STEP_SECONDS = 0.001
#: ... but never longer than this: the delay is only to let a less busy worker go first.
MAX_WAIT_SECONDS = 0.01

logger = logging.getLogger("psychometrics.service")


class BalancedServer:
    """Accepts connections from a shared listening ``sock``, later the more it holds; enough
    of ``asyncio.Server`` for uvicorn (``close``, ``wait_closed``, ``sockets``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol_factory: Any, sock: socket.socket,
                 backlog: int = 100) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._sock = sock
        self._transports: set[asyncio.BaseTransport] = set()
        self._fd = sock.fileno()
        sock.listen(backlog)  # as create_server does: the parent only binds it
        sock.setblocking(False)
        self._task = loop.create_task(self._accept_loop())

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return (self._sock,)

    def open_connections(self) -> int:
        """Connections accepted here and not closed yet."""
        self._transports = {t for t in self._transports if not t.is_closing()}
        return len(self._transports)

    async def _readable(self) -> None:
        waiter = self._loop.create_future()
        self._loop.add_reader(self._fd, lambda: waiter.done() or waiter.set_result(None))
        try:
            await waiter
        finally:
            self._stop_reading()

    def _stop_reading(self) -> None:
        try:
            self._loop.remove_reader(self._fd)
        except (OSError, ValueError, RuntimeError):  # the socket or the loop is closed already
            pass

    async def _accept_loop(self) -> None:
        while True:
            await self._readable()
            held = self.open_connections()
            if held:
                # let a worker holding fewer connections take this one
                await asyncio.sleep(min(STEP_SECONDS * held, MAX_WAIT_SECONDS))
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue  # another worker took it, or the client gave up
            except OSError as exc:  # out of file descriptors, say: wait and try again
                logger.error("accept failed: %r", exc)
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(False)
            try:
                transport, _ = await self._loop.connect_accepted_socket(self._factory, conn)
            except OSError:
                conn.close()
                continue
            self._transports.add(transport)

    def close(self) -> None:
        # at once: uvicorn closes the socket right after this
        self._stop_reading()
        self._task.cancel()

    async def wait_closed(self) -> None:
        try:
            await self._task
        except asyncio.CancelledError:
            pass


def _base_loop() -> type[asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.SelectorEventLoop
    return uvloop.Loop


class _BalancedMixin:
    async def create_server(self, protocol_factory: Any, host: Any = None, port: Any = None, *,
                            sock: socket.socket | None = None, ssl: Any = None, backlog: int = 100,
                            **kwargs: Any) -> Any:
        if sock is None or ssl is not None:
            return await super().create_server(protocol_factory, host, port, sock=sock,  # type: ignore[misc]
                                               ssl=ssl, backlog=backlog, **kwargs)
        return BalancedServer(self, protocol_factory, sock, backlog)  # type: ignore[arg-type]


def balanced_loop() -> asyncio.AbstractEventLoop:
    """A new event loop (uvloop's when installed) whose servers on a given socket accept
    through :class:`BalancedServer`; uvicorn's ``loop`` setting for the worker processes."""
    base = _base_loop()
    loop_class = type(f"Balanced{base.__name__}", (_BalancedMixin, base), {})
    return loop_class()
