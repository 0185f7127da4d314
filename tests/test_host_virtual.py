"""The virtual device over a real pseudo-terminal, and the DUT's retries under injected faults (no model needed)."""
from __future__ import annotations

import os
import select
import time
from typing import Iterator

import numpy as np
import pytest

from host import protocol as p
from host import serial_device
from host.dut import Dut, DutError, Timeouts
from host.serial_device import LinkError, SerialLink
from host.ports import VirtualDeviceProcess
from host.virtual_backends import REFERENCE_INFO, FakeBackend

# Short timeouts keep fault tests fast; correctness never depends on them (a late reply is only a retry).
FAST = Timeouts(hello_s=0.3, handshake_attempts=5, reply_s=0.2, infer_s=0.3, clip_attempts=8)


def random_clips(n: int, seed: int) -> list[bytes]:
    """``n`` random int8 clips of the reference input size."""
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, REFERENCE_INFO.input_bytes, dtype=np.int8).tobytes() for _ in range(n)]


@pytest.fixture
def fake_device() -> Iterator[VirtualDeviceProcess]:
    with VirtualDeviceProcess(["--backend", "fake"]) as device:
        yield device


def test_virtual_device_prints_boot_and_self_test_on_the_pty(fake_device: VirtualDeviceProcess) -> None:
    fd = os.open(fake_device.port, os.O_RDWR | os.O_NOCTTY)
    try:
        data = b""
        while data.count(b"\n") < 2 and select.select([fd], [], [], 5)[0]:
            data += os.read(fd, 1024)
    finally:
        os.close(fd)
    boot, comment = data.splitlines(keepends=True)[:2]
    assert p.parse_device_line(boot) == p.Boot(proto=2, fw=REFERENCE_INFO.fw, model=REFERENCE_INFO.model)
    assert p.parse_device_line(comment) == p.Comment("self-test 1/2 identical to host")


def test_dut_over_pty_gets_the_reference_scores(fake_device: VirtualDeviceProcess) -> None:
    with SerialLink(fake_device.port) as link:
        dut = Dut(link, expected_model=REFERENCE_INFO.model)
        assert dut.handshake() == REFERENCE_INFO
        for clip in random_clips(20, seed=1):
            result, attempts = dut.infer(clip)
            assert result.scores == FakeBackend().infer(clip)[0]
            assert attempts == 1
        assert dut.selftest() == p.SelftestResult(1, 2)


def test_model_mismatch_is_refused(fake_device: VirtualDeviceProcess) -> None:
    with SerialLink(fake_device.port) as link:
        with pytest.raises(DutError, match="model 0123abcd but the local build is deadbeef"):
            Dut(link, expected_model="deadbeef").handshake()


def test_busy_port_is_one_clear_error(fake_device: VirtualDeviceProcess) -> None:
    with SerialLink(fake_device.port):
        with pytest.raises(LinkError, match="cannot open port"):
            SerialLink(fake_device.port, open_attempts=1)


@pytest.mark.parametrize("seed", [1, 2])
def test_damaged_bytes_and_resets_lose_nothing_and_corrupt_nothing(seed: int) -> None:
    """Dropped, flipped and truncated lines in both directions plus periodic resets: every clip still yields
    exactly the reference scores, and the faults really happened (retries and resets were needed)."""
    args = ["--backend", "fake", "--fault-rate", "0.03", "--seed", str(seed), "--reset-every", "41"]
    with VirtualDeviceProcess(args) as device, SerialLink(device.port) as link:
        dut = Dut(link, timeouts=FAST)
        for clip in random_clips(60, seed):
            result, _ = dut.infer(clip)
            assert result.scores == FakeBackend().infer(clip)[0]
        assert dut.retries > 0
        assert dut.resets > 0


def test_garbage_exhausts_the_retries_with_one_error() -> None:
    with VirtualDeviceProcess(["--backend", "fake", "--garbage-after", "16"]) as device:
        with SerialLink(device.port) as link:
            dut = Dut(link, timeouts=FAST)
            clips = random_clips(3, seed=3)
            dut.infer(clips[0])  # lines 1-8: HELLO, 6 LOADs, INFER
            dut.infer(clips[1])  # lines 9-15
            with pytest.raises(DutError, match=r"attempts \(last: "):
                dut.infer(clips[2])


def test_killed_device_ends_in_a_link_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serial_device, "REOPEN_ATTEMPTS", 2)
    monkeypatch.setattr(serial_device, "REOPEN_DELAY_S", 0.01)
    device = VirtualDeviceProcess(["--backend", "fake"])
    device.start()
    with SerialLink(device.port) as link:
        dut = Dut(link, timeouts=FAST)
        dut.handshake()
        device.stop()
        with pytest.raises((LinkError, DutError)):
            dut.infer(random_clips(1, seed=4)[0])


def test_stale_replies_are_never_taken_for_new_ones(fake_device: VirtualDeviceProcess) -> None:
    """Replies queued from abandoned commands (a slow device) must not be matched to the next clip."""
    with SerialLink(fake_device.port) as link:
        dut = Dut(link, timeouts=FAST)
        dut.handshake()
        a, b = random_clips(2, seed=5)
        link.write(p.encode_command("LOAD", 0, a[:256]))  # abandoned: its OK LOAD 256 stays queued
        link.write(p.encode_command("HELLO"))
        time.sleep(0.1)
        result, _ = dut.infer(b)
        assert result.scores == FakeBackend().infer(b)[0]


def test_link_reads_lines_split_across_reads() -> None:
    master, slave = os.openpty()
    try:
        with SerialLink(os.ttyname(slave)) as link:
            os.write(master, b"OK LO")
            assert link.read_line(0.05) is None
            os.write(master, b"AD 1 *XXXX\nnext")
            assert link.read_line(1.0) == b"OK LOAD 1 *XXXX\n"
            assert link.read_line(0.05) is None
    finally:
        os.close(master)
        os.close(slave)
