"""Loopback stand-ins for a broken network: a server that never answers, a proxy that stalls."""

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# Every loop here wakes at least this often to see whether it should stop.
TICK = 0.1


@contextmanager
def silent_server() -> Iterator[int]:
    """A loopback port that accepts TCP connections and then never sends a byte; yields it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TICK)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


class StallingProxy:
    """Forwards a loopback port to ``target`` until ``stall()``; then forwards nothing, either
    way, while keeping every connection open, as a network that silently stopped would."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TICK)
        self.port: int = self.listener.getsockname()[1]
        self.stalled = threading.Event()
        self.stopped = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def stall(self) -> None:
        self.stalled.set()

    def close(self) -> None:
        self.stopped.set()
        for thread in list(self.threads):
            thread.join(timeout=5)
        for connection in self.sockets:
            connection.close()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client = self.listener.accept()[0]
            except TimeoutError:
                continue
            upstream = socket.create_connection(self.target, timeout=5)
            self.sockets += [client, upstream]
            thread = threading.Thread(target=self._forward, args=(client, upstream), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _forward(self, client: socket.socket, upstream: socket.socket) -> None:
        peer = {client: upstream, upstream: client}
        while not self.stopped.is_set():
            if self.stalled.is_set():
                time.sleep(TICK)
                continue
            readable, _, _ = select.select(list(peer), [], [], TICK)
            for source in readable:
                data = source.recv(65536)
                if not data:
                    return  # one side closed: so does the proxy, when it closes
                peer[source].sendall(data)


@contextmanager
def stalling_proxy(host: str, port: int) -> Iterator[StallingProxy]:
    proxy = StallingProxy(host, port)
    try:
        yield proxy
    finally:
        proxy.close()


def wait_until(condition: Callable[[], object], seconds: float, what: str) -> float:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``seconds``. The time taken."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"{what}: not within {seconds} s"
        time.sleep(TICK)
    return time.monotonic() - started
