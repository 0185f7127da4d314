"""A TCP proxy that damages protocol lines in both directions, for fault tests against a real byte stream.

``FaultProxy(upstream_url, FaultInjector(rate=…, seed=…))`` listens on ``socket://127.0.0.1:<port>`` (``.url``),
accepts one client, connects it to the upstream ``socket://host:port`` (the emulator's UART) and forwards whole
lines, each damaged with the injector's seeded probability (a byte dropped, flipped, or the line truncated) — the
same damage the virtual device applies to itself (``host/faults.py``), here in front of the real firmware.
"""
from __future__ import annotations

import socket
import threading
from urllib.parse import urlparse

from host import protocol as p
from host.faults import FaultInjector

ACCEPT_TIMEOUT_S = 10.0  # the client connects right after the proxy starts
PUMP_CHUNK = 4096  # bytes per socket read


class FaultProxy:
    """One client, one upstream connection, two forwarding threads; a context manager that closes both sockets.

    Parameters
    ----------
    upstream : str
        ``socket://host:port`` of the device.
    faults : FaultInjector
        Damage applied to every complete line, from either side (its ``rate``; resets and garbage are not used).
    """

    def __init__(self, upstream: str, faults: FaultInjector) -> None:
        target = urlparse(upstream)
        self._upstream_addr = (target.hostname, target.port)
        self._faults = faults
        self._lock = threading.Lock()  # one random generator shared by both directions
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = [self._listener]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # never connected, or already closed by the other side
            sock.close()
        self._thread.join(ACCEPT_TIMEOUT_S)

    def _serve(self) -> None:
        self._listener.settimeout(ACCEPT_TIMEOUT_S)
        try:
            client, _ = self._listener.accept()
        except OSError:
            return  # closed before a client came
        upstream = socket.create_connection(self._upstream_addr)
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sockets += [client, upstream]
        back = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        back.start()
        self._pump(client, upstream)
        back.join()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        pending = b""
        try:
            while chunk := src.recv(PUMP_CHUNK):
                pending += chunk
                cut = pending.rfind(p.EOL) + 1  # only whole lines are damaged and forwarded
                if cut:
                    with self._lock:
                        out = self._faults.damage(pending[:cut])
                    pending = pending[cut:]
                    dst.sendall(out)
        except OSError:
            pass  # either side closed: the session is over
