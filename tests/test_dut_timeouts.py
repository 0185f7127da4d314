"""Reply timeouts that follow the device's measured speed (host/dut.py): a device a hundred times slower than a
board (an emulated one on a loaded machine) answers every clip at the first try, while the fixed timeouts would
fail every try; a clip that timed out waits longer on its next try. The device is the virtual device's protocol
session on the reference fake inference behind a test double of the serial link with a fake clock (no sleeping)."""
from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from host import dut as dut_module
from host.dut import Dut, DutError, Timeouts
from host.virtual_backends import FakeBackend
from host.virtual_session import DeviceSession

TIMEOUTS = Timeouts(hello_s=3.0, handshake_attempts=2, reply_s=0.2, infer_s=0.5, clip_attempts=3, hear_s=0.5)


class SlowLinkDouble:
    """TEST DOUBLE of ``SerialLink``: every reply line arrives ``delay_s`` after the command (after ``slow_after``
    fast commands), on a fake clock that ``read_line`` advances instead of sleeping."""

    def __init__(self, delay_s: float, slow_after: int = 0) -> None:
        self.session = DeviceSession(FakeBackend())
        self.delay_s = delay_s
        self.slow_after = slow_after
        self.commands = 0
        self.now = 0.0
        self.pending: deque[tuple[float, bytes]] = deque()  # (ready at, line)

    def clock(self) -> float:
        return self.now

    def write(self, data: bytes) -> None:
        delay = self.delay_s if self.commands >= self.slow_after else 0.001
        self.commands += 1
        for line in self.session.feed(data).splitlines(keepends=True):
            self.pending.append((self.now + delay, line))

    def read_line(self, timeout_s: float) -> bytes | None:
        if self.pending and self.pending[0][0] <= self.now + timeout_s:
            ready, line = self.pending.popleft()
            self.now = max(self.now, ready)
            return line
        self.now += timeout_s
        return None

    def discard_input(self) -> None:
        self.pending = deque((t, line) for t, line in self.pending if t > self.now)

    def reopen(self) -> None:
        pass


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch):
    def install(link: SlowLinkDouble) -> SlowLinkDouble:
        monkeypatch.setattr(dut_module.time, "monotonic", link.clock)
        return link
    return install


def test_a_slow_device_answers_every_clip_at_the_first_try(fake_clock) -> None:
    link = fake_clock(SlowLinkDouble(delay_s=0.8))  # 4x the reply floor, slower than INFER's and HEAR's too
    dut = Dut(link, timeouts=TIMEOUTS)
    dut.handshake()
    assert dut.slowest["reply"] == pytest.approx(0.8)
    clip = bytes(range(256)) * 5 + bytes(20)
    for _ in range(3):
        result, attempts = dut.infer(clip[:dut.info.input_bytes])
        assert attempts == 1 and result.scores == FakeBackend().infer(clip[:dut.info.input_bytes])[0]
    _, features, attempts = dut.hear(np.arange(4000, dtype=np.int16))
    assert attempts == 1 and len(features) == dut.info.input_bytes
    assert dut.retries == 0 and dut.timeout("reply", TIMEOUTS.reply_s) == pytest.approx(8.0)


def test_fixed_timeouts_fail_the_same_device(fake_clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the measured latency (the old fixed timeouts) the same device fails every try."""
    monkeypatch.setattr(dut_module, "LATENCY_MARGIN", 0.0)
    monkeypatch.setattr(dut_module, "TIMEOUT_BACKOFF", 1.0)
    link = fake_clock(SlowLinkDouble(delay_s=0.8))
    dut = Dut(link, timeouts=TIMEOUTS)
    dut.handshake()
    with pytest.raises(DutError, match="clip failed after 3 attempts"):
        dut.infer(bytes(dut.info.input_bytes))


def test_a_device_that_slows_down_is_waited_for_on_the_retry(fake_clock) -> None:
    """Fast at the handshake, then 0.3 s per reply: the first try times out (0.2 s), the retry waits twice as long
    and measures the new speed."""
    link = fake_clock(SlowLinkDouble(delay_s=0.3, slow_after=1))
    dut = Dut(link, timeouts=TIMEOUTS)
    dut.handshake()
    assert dut.timeout("reply", TIMEOUTS.reply_s) == TIMEOUTS.reply_s
    _, attempts = dut.infer(bytes(range(100)) * 13)
    assert attempts == 2 and dut.retries == 1
    assert dut.slowest["reply"] == pytest.approx(0.3)
    _, attempts = dut.infer(bytes(range(100)) * 13)
    assert attempts == 1
