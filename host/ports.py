"""Opening the device a host tool talks to, whatever the port names: a device path, any pyserial URL
(``socket://host:port``, ``rfc2217://…``), ``virtual`` (the virtual device, :mod:`host.virtual_device`, started
here as a child process on a pty), ``emu`` or ``emu:<config>`` (the firmware image of ``make firmware-emu`` on
QEMU, :mod:`host.emulator`) or nothing (the one connected Arduino, found by USB vendor id).

The harness, the device backend of the runtime and the bench all open their device through :func:`open_port`.
"""
from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from data.config import PipelineError
from host.emulator import Emulator, EmulatorError, image_path, parse_port, read_boot
from host.serial_device import LinkError, SerialLink, find_arduino_port

VIRTUAL_PORT = "virtual"
# The virtual device's first stdout line, followed by its pty path: it is ready to answer.
VIRTUAL_ANNOUNCE = "virtual device on "


class PortError(PipelineError):
    """The port could not be opened (no board, a busy port, a virtual device or emulator that did not start); the
    message is one line, ``<port>: <reason>``."""


class VirtualDeviceError(Exception):
    """The virtual device could not start (missing build, bad options); the message is its one error line."""


class VirtualDeviceProcess:
    """The virtual device in a child process: ``with VirtualDeviceProcess(...) as vd: open(vd.port)``.

    Parameters
    ----------
    args : list of str
        Command-line options of ``python -m host.virtual_device`` (``--build``, ``--backend``, faults…).
    """

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.port = ""

    def start(self) -> str:
        """Start the child and return its pty path, once it is ready to answer."""
        self.proc = subprocess.Popen([sys.executable, "-m", "host.virtual_device", *self.args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        announce = self.proc.stdout.readline()  # printed once the pty exists and BOOT is written
        if not announce.startswith(VIRTUAL_ANNOUNCE):
            self.proc.wait()
            reason = self.proc.stderr.read().strip().splitlines()
            raise VirtualDeviceError(reason[-1] if reason else f"exited with status {self.proc.returncode}")
        self.port = announce[len(VIRTUAL_ANNOUNCE):].strip()
        return self.port

    def stop(self) -> None:
        """Kill the child (as an unplugged board: no goodbye)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "VirtualDeviceProcess":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def open_port(port: str | None, build_dir: Path) -> Iterator[tuple[SerialLink, str]]:
    """The port to talk to (starting a virtual device for ``virtual``, QEMU for ``emu[:<config>]``, both stopped when
    the block ends), with its display name.

    Raises
    ------
    PortError
        The port could not be opened; errors while it is open stay :class:`host.serial_device.LinkError`.
    """
    with contextlib.ExitStack() as stack:
        name = port or "auto-detected port"
        try:
            emu_config = parse_port(port) if port else None
            if emu_config is not None:
                emulator = stack.enter_context(Emulator(image_path(build_dir, emu_config)))
                link = stack.enter_context(SerialLink(emulator.url))
                boot = read_boot(link, emulator)
                name = (f"emu ({boot.platform}, {boot.kernels} -{boot.opt}, self-test {boot.selftest[0]}/"
                        f"{boot.selftest[1]}, stack {boot.stack_used} B)")
            else:
                if port == VIRTUAL_PORT:
                    device = stack.enter_context(VirtualDeviceProcess(["--build", str(build_dir), "--backend",
                                                                       "tflm"]))
                    url, name = device.port, f"virtual ({device.port})"
                else:
                    url = name = port or find_arduino_port()
                link = stack.enter_context(SerialLink(url))
        except (EmulatorError, LinkError, VirtualDeviceError) as e:
            raise PortError(f"{name}: {e}") from None
        yield link, name
