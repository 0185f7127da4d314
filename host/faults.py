"""Fault injection: seeded damage to protocol lines in both directions, simulated resets, noise and death, for the
fault tests of the host side (the virtual device applies it to itself, :mod:`host.fault_proxy` in front of the
emulated firmware). A failing run is replayed from its seed."""
from __future__ import annotations

import random

from host import protocol as p
from host.virtual_session import DeviceSession


class FaultInjector:
    """Seeded damage to whole lines in both directions, and simulated resets (for fault-injection tests).

    Parameters
    ----------
    rate : float
        Probability that a line (received or sent) is damaged: one byte dropped, one byte flipped, or the line
        truncated (its end cut off, the ``\\n`` kept).
    seed : int
        Seed of the random generator, so a failing run can be replayed.
    reset_every : int
        Simulate a device reset (state lost, ``BOOT`` printed) after every this many received lines; 0 never.
    garbage_after : int
        After this many received lines, answer every line with noise instead of a reply; 0 never.
    die_after : int
        After this many received lines the device dies without replying (``dead`` becomes true); 0 never.
    """

    def __init__(self, rate: float = 0.0, seed: int = 0, reset_every: int = 0, garbage_after: int = 0,
                 die_after: int = 0) -> None:
        self.rate = rate
        self.rng = random.Random(seed)
        self.reset_every = reset_every
        self.garbage_after = garbage_after
        self.die_after = die_after
        self.lines = 0

    @property
    def dead(self) -> bool:
        """Whether the simulated device has died (``die_after`` lines received)."""
        return bool(self.die_after) and self.lines >= self.die_after

    def damage(self, data: bytes) -> bytes:
        """``data`` with each of its lines damaged with probability ``rate``."""
        if not self.rate:
            return data
        out = bytearray()
        for piece in _pieces(data):
            eol = p.EOL if piece.endswith(p.EOL) else b""
            body = bytearray(piece[: len(piece) - len(eol)])
            if body and self.rng.random() < self.rate:
                kind = self.rng.choice(("drop", "flip", "truncate"))
                pos = self.rng.randrange(len(body))
                if kind == "drop":
                    del body[pos]
                elif kind == "flip":
                    body[pos] ^= self.rng.randrange(1, 256)
                else:
                    del body[pos:]
            out += body + eol
        return bytes(out)

    def respond(self, session: DeviceSession, received: bytes) -> bytes:
        """Feed ``received`` (damaged) to ``session`` and return its (damaged) replies, with resets and noise."""
        out = bytearray()
        for line in _pieces(self.damage(received)):
            self.lines += line.endswith(p.EOL)
            if self.garbage_after and self.lines > self.garbage_after:
                session.feed(line)
                out += bytes(self.rng.randrange(32, 127) for _ in range(40)) + p.EOL
            elif self.reset_every and line.endswith(p.EOL) and self.lines % self.reset_every == 0:
                out += session.boot()  # the line is lost in the reset
            else:
                out += self.damage(session.feed(line))
        return bytes(out)


def _pieces(data: bytes) -> list[bytes]:
    """``data`` split after every ``\\n``; the last piece may be a partial line without one."""
    parts = data.split(p.EOL)
    return [part + p.EOL for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
