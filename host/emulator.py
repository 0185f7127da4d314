"""The emulated board: the real firmware image (``make firmware-emu``) on ``qemu-system-arm -M mps2-an386``.

``Emulator`` starts QEMU with the board's UART0 on a local TCP socket and always stops it again (context manager;
on errors and Ctrl-C through ``__exit__``, and when this process dies through the kernel's parent-death signal).
QEMU runs with ``-icount shift=0``: every guest instruction advances virtual time by 1 ns, so the firmware's
clock (``platform_mps2.cc``) counts instructions and the runs are deterministic.

``PORT=emu`` (or ``emu:<config>``, e.g. ``emu:ref-O2``, ``emu:native-O2``) in the harness and ``predict`` names the
image ``<build>/firmware/emu/<config>/firmware.elf``. The port syntax is parsed here only: make asks
``python -m host.emulator --resolve PORT --engine … --opt …`` (host/host.mk) which image a port names and how to
build it.
"""
from __future__ import annotations

import ctypes
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from host import protocol as p
from host.serial_device import SerialLink

QEMU = "qemu-system-arm"
MACHINE = "mps2-an386"
EMU_PORT = "emu"  # the harness's PORT value for the emulator (optionally ``emu:<config>``)
# A configuration is <kernels>-<opt> for TFLM (ENGINE=tflm KERNELS=… OPT=…), native-<opt> for the native engine.
ENGINES = ("native", "tflm")
KERNELS = ("cmsis", "ref")
OPTS = ("Os", "O2")
CONFIGS = tuple(f"{k}-{o}" for k in ("ref", "cmsis") for o in OPTS)
NATIVE_CONFIGS = tuple(f"native-{o}" for o in OPTS)
# Plain ``emu`` from Python (tests, demo): the TFLM + CMSIS-NN reference image. make resolves plain ``emu`` with its
# ENGINE (native by default), KERNELS and OPT instead (``--resolve``).
DEFAULT_CONFIG = "cmsis-Os"
# Boot = model check + the self-test clips: ~0.1 s of host time with CMSIS-NN, ~0.5 s with reference kernels at
# -Os on this machine; the margin covers a loaded CI runner.
BOOT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0  # QEMU exits within milliseconds of SIGTERM; then SIGKILL
MONITOR_TIMEOUT_S = 5.0  # the QEMU monitor answers a command within milliseconds
# The listener (``make firmware-listen-emu``, firmware/emu/main_listen_emu.cc): its clip goes into the board's PSRAM.
LISTEN_IMAGE = "listen.elf"
CLIP_ADDRESS = 0x21000000  # main_listen_emu.cc's kClipBase: QEMU's 16 MB "mps.ram" on mps2-an385/an386
CLIP_MAGIC = b"CLIP"
CLIP_MAX_SAMPLES = (16 * 1024 * 1024 - 8) // 2
CLIP_RATE = 16000
# Host seconds per second of audio the emulated listener may take (4 windows per audio second with CMSIS-NN run in
# well under a second on this machine; the margin covers a loaded CI runner), on top of BOOT_TIMEOUT_S.
LISTEN_S_PER_AUDIO_S = 10.0
PR_SET_PDEATHSIG = 1  # prctl(2): signal the child when the parent dies, so QEMU never outlives the harness


class EmulatorError(Exception):
    """QEMU or the image is missing, QEMU died, or the firmware did not boot; one line naming the reason."""


@dataclass(frozen=True)
class BootReport:
    """What the emulated firmware printed after reset (firmware/emu/main_emu.cc).

    Attributes
    ----------
    boot : p.Boot
        The ``BOOT`` line.
    selftest : tuple of (int, int)
        Passed and total self-test clips.
    platform, kernels, opt : str
        From ``# platform=mps2-an386 kernels=cmsis-nn opt=Os``.
    stack_used, stack_size : int
        Stack high-water mark after boot (painted-stack scan) and the stack's size, in bytes.
    """

    boot: p.Boot
    selftest: tuple[int, int]
    platform: str
    kernels: str
    opt: str
    stack_used: int
    stack_size: int


def config_of(engine: str, kernels: str = "cmsis", opt: str = "Os") -> str:
    """The configuration emu.mk builds for ENGINE, KERNELS and OPT (KERNELS is TFLM's only)."""
    if engine not in ENGINES or kernels not in KERNELS or opt not in OPTS:
        raise EmulatorError(f"no emulated configuration for ENGINE={engine} KERNELS={kernels} OPT={opt}; ENGINE is "
                            f"{' or '.join(ENGINES)}, KERNELS {' or '.join(KERNELS)}, OPT {' or '.join(OPTS)}")
    return f"native-{opt}" if engine == "native" else f"{kernels}-{opt}"


def parse_port(port: str, engine: str | None = None, kernels: str = "cmsis", opt: str = "Os") -> str | None:
    """The configuration an ``emu`` port names, ``None`` for any other port. ``emu:<config>`` names its own; plain
    ``emu`` takes ``engine``/``kernels``/``opt`` (no engine: ``DEFAULT_CONFIG``)."""
    if port == EMU_PORT:
        return DEFAULT_CONFIG if engine is None else config_of(engine, kernels, opt)
    if port.startswith(EMU_PORT + ":"):
        config = port[len(EMU_PORT) + 1:]
        if config not in CONFIGS + NATIVE_CONFIGS:
            raise EmulatorError(f"unknown emulator configuration {config!r}; use one of "
                                f"{', '.join(CONFIGS + NATIVE_CONFIGS)}")
        return config
    return None


def make_args(config: str) -> list[str]:
    """The make variables of ``make firmware-emu`` that build ``config``."""
    first, opt = config.split("-")
    return ["ENGINE=native", f"OPT={opt}"] if first == "native" else ["ENGINE=tflm", f"KERNELS={first}", f"OPT={opt}"]


def resolve(port: str, engine: str, kernels: str, opt: str, engine_given: bool = False) -> list[str]:
    """What make needs for ``PORT``: ``[port]`` for a port that is not the emulator's, else ``[emu:<config>,
    <make args>...]``. ``engine_given``: ENGINE was set by the user, so an ``emu:<config>`` of the other engine is
    refused instead of silently winning."""
    config = parse_port(port, engine, kernels, opt)
    if config is None:
        return [port]
    config_engine = "native" if config.startswith("native-") else "tflm"
    if engine_given and config_engine != engine:
        raise EmulatorError(f"PORT={port} runs the {config_engine} engine, but ENGINE={engine}; drop one of them")
    return [f"{EMU_PORT}:{config}", *make_args(config)]


def image_path(build_dir: Path, config: str = DEFAULT_CONFIG) -> Path:
    """Where ``make firmware-emu KERNELS=… OPT=…`` puts the image of ``build_dir``'s model."""
    return build_dir / "firmware" / "emu" / config / "firmware.elf"


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Emulator:
    """One QEMU process running ``image`` with its serial port on ``socket://127.0.0.1:<port>``.

    The listening socket is created here and handed to QEMU (``-chardev socket,fd=…``), so there is no race for
    the port, and QEMU holds the guest until the first client connects: nothing of the boot output is lost.
    """

    def __init__(self, image: Path, extra_args: Sequence[str] = ()) -> None:
        self.image = Path(image)
        self.extra_args = list(extra_args)  # more QEMU options (the listener's clip loader)
        self.url = ""
        self._proc: subprocess.Popen | None = None
        self._monitor_addr: tuple[str, int] | None = None

    def reset(self) -> None:
        """Reset the board (QEMU monitor ``system_reset``): the firmware reboots and prints ``BOOT`` again."""
        if self._monitor_addr is None:
            raise EmulatorError("emulator not started")
        with socket.create_connection(self._monitor_addr, MONITOR_TIMEOUT_S) as mon:
            mon.sendall(b"system_reset\n")
            mon.settimeout(MONITOR_TIMEOUT_S)
            reply = b""
            while b"system_reset" not in reply:  # the monitor echoes the command once it has read it
                chunk = mon.recv(4096)
                if not chunk:
                    break
                reply += chunk

    def start(self) -> str:
        """Start QEMU; returns the pyserial URL of the board's UART."""
        if shutil.which(QEMU) is None:
            raise EmulatorError(f"{QEMU} not found; install the Debian package qemu-system-arm")
        if not self.image.is_file():
            raise EmulatorError(f"{self.image}: missing; build it with `make firmware-emu`")
        listener = socket.create_server(("127.0.0.1", 0))
        # QEMU's human monitor, for reset(): a second listening socket, also handed over as a descriptor.
        monitor = socket.create_server(("127.0.0.1", 0))
        try:
            fd, mon_fd = listener.fileno(), monitor.fileno()
            cmd = [QEMU, "-M", MACHINE, "-cpu", "cortex-m4", "-nographic", "-nodefaults",
                   "-icount", "shift=0", "-kernel", str(self.image),
                   "-chardev", f"socket,id=uart0,fd={fd},server=on,wait=on,nodelay=on", "-serial", "chardev:uart0",
                   "-chardev", f"socket,id=mon,fd={mon_fd},server=on,wait=off", "-mon", "chardev=mon,mode=readline",
                   *self.extra_args]
            self._proc = subprocess.Popen(cmd, pass_fds=(fd, mon_fd), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          preexec_fn=_die_with_parent)
            self.url = f"socket://127.0.0.1:{listener.getsockname()[1]}"
            self._monitor_addr = monitor.getsockname()
        finally:
            listener.close()  # QEMU holds its own copies of the listening sockets
            monitor.close()
        return self.url

    def check_alive(self) -> None:
        """Raise ``EmulatorError`` with QEMU's last message when it has exited."""
        if self._proc is not None and self._proc.poll() is not None:
            err = self._proc.stderr.read().decode(errors="replace").strip().splitlines() if self._proc.stderr else []
            raise EmulatorError(f"{QEMU} exited with {self._proc.returncode}: {err[-1] if err else 'no message'}")

    def stop(self) -> None:
        """Stop QEMU (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``); safe to call twice."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None
        self._monitor_addr = None

    def __enter__(self) -> "Emulator":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_PLATFORM = re.compile(r"platform=(\S+) kernels=(\S+) opt=(\S+)$")
_STACK = re.compile(r"stack used=(\d+) of (\d+) bytes$")
_SELFTEST = re.compile(r"self-test (\d+)/(\d+) identical to host$")


def _next_line(link: SerialLink, emulator: Emulator | None, deadline: float) -> bytes | None:
    """The firmware's next UART line, or None once ``deadline`` (``time.monotonic()``) has passed; raises
    ``EmulatorError`` as soon as QEMU has died (polled at least once a second)."""
    while True:
        if emulator is not None:
            emulator.check_alive()
        raw = link.read_line(min(1.0, max(0.0, deadline - time.monotonic())))
        if raw is not None or time.monotonic() >= deadline:
            return raw


def read_boot(link: SerialLink, emulator: Emulator | None = None, timeout_s: float = BOOT_TIMEOUT_S) -> BootReport:
    """Read the boot output (``BOOT``, self-test, platform and stack comments) of a freshly started firmware.

    Raises
    ------
    EmulatorError
        A line missing within ``timeout_s``, or a failed model check (its reason quoted).
    """
    found: dict[str, object] = {}
    deadline = time.monotonic() + timeout_s
    while "stack" not in found:
        raw = _next_line(link, emulator, deadline)
        if raw is None:
            raise EmulatorError(f"no complete boot output within {timeout_s:g} s (got {sorted(found)})")
        line = p.parse_device_line(raw)
        if isinstance(line, p.Boot):
            found = {"boot": line}
        elif isinstance(line, p.Comment):
            if line.text.startswith(("model check failed", "fatal")):
                raise EmulatorError(f"firmware: {line.text}")
            for key, pattern in (("selftest", _SELFTEST), ("platform", _PLATFORM), ("stack", _STACK)):
                match = pattern.search(line.text)
                if match:
                    found[key] = match.groups()
    if "boot" not in found or "selftest" not in found or "platform" not in found:
        raise EmulatorError(f"incomplete boot output (got {sorted(found)})")
    platform, kernels, opt = found["platform"]
    return BootReport(boot=found["boot"], selftest=tuple(int(v) for v in found["selftest"]), platform=platform,
                      kernels=kernels, opt=opt, stack_used=int(found["stack"][0]), stack_size=int(found["stack"][1]))


def clip_blob(wav: Path) -> bytes:
    """The listener's clip for a 16 kHz mono 16-bit PCM WAV: ``CLIP``, the sample count, the samples (all LE).

    Raises ``PipelineError`` naming the file when it is not such a WAV or is longer than the PSRAM holds.
    """
    from data.config import PipelineError

    try:
        with wave.open(str(wav), "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (CLIP_RATE, 1, 2):
                raise PipelineError(f"{wav}: not 16 kHz mono 16-bit PCM")
            count = w.getnframes()
            if count > CLIP_MAX_SAMPLES:
                raise PipelineError(f"{wav}: longer than the emulated board's clip memory "
                                    f"({CLIP_MAX_SAMPLES // CLIP_RATE} s)")
            samples = w.readframes(count)
    except (OSError, EOFError, wave.Error) as e:
        raise PipelineError(f"{wav}: cannot read the WAV file ({e})") from None
    return CLIP_MAGIC + (len(samples) // 2).to_bytes(4, "little") + samples


@dataclass(frozen=True)
class Hop:
    """One evaluated window of the emulated listener (its ``# hop`` line, main_listen_emu.cc): instructions of the
    whole hop (everything ``listen::Loop()`` did since the previous window), of the front end and of the inference;
    the frame spectra the streaming front end computed; the CRC-16 of the model's int8 input."""

    count: int
    end_ms: int
    instructions: int
    frontend: int
    inference: int
    spectra: int
    features_crc: int


_HOP = re.compile(r"^# hop (\d+) at (\d+) instructions=(\d+) frontend=(\d+) inference=(\d+) spectra=(\d+) "
                  r"features=([0-9A-F]{4})$")


@dataclass(frozen=True)
class ListenRun:
    """What the emulated listener printed: its own lines (those of the host simulator) and one ``Hop`` per window."""

    lines: list[str]
    hops: list[Hop]


def listen_emulated(image: Path, wav: Path) -> ListenRun:
    """Play ``wav`` to the emulated listener (``image``: ``make firmware-listen-emu``'s listen.elf): its UART lines
    up to and including ``# played <ms> ms`` (``# listening ...``, the ``# heard ...`` lines) and its hops.

    Raises ``EmulatorError`` when QEMU dies, the firmware reports a fatal error, or it does not finish in time.
    """
    if not Path(image).is_file():
        raise EmulatorError(f"{image}: missing; build it with `make firmware-listen-emu`")
    blob = clip_blob(wav)
    timeout_s = BOOT_TIMEOUT_S + LISTEN_S_PER_AUDIO_S * (len(blob) - 8) / 2 / CLIP_RATE
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.bin"
        clip.write_bytes(blob)
        loader = ["-device", f"loader,file={clip},addr={CLIP_ADDRESS:#x},force-raw=on"]
        with Emulator(image, loader) as emu, SerialLink(emu.url) as link:
            lines: list[str] = []
            hops: list[Hop] = []
            deadline = time.monotonic() + timeout_s
            while not lines or not lines[-1].startswith("# played "):
                raw = _next_line(link, emu, deadline)
                if raw is None:
                    raise EmulatorError(f"the listener did not finish {wav} within {timeout_s:.0f} s")
                line = raw.decode(errors="replace").rstrip("\r\n")
                hop = _HOP.match(line)
                if hop:
                    hops.append(Hop(*(int(v) for v in hop.groups()[:-1]), int(hop.group(7), 16)))
                    continue
                lines.append(line)
                if line.startswith("# fatal"):
                    raise EmulatorError(f"firmware: {line[2:]}")
    return ListenRun(lines, hops)


def main(argv: list[str] | None = None) -> None:
    """Command line: the emulated listener on one WAV file, or (``--resolve``) what make builds for a port."""
    import argparse

    from data.config import PipelineError, run_main

    parser = argparse.ArgumentParser(prog="python -m host.emulator",
                                     description="Play a 16 kHz mono WAV to the emulated listener and print its lines.")
    parser.add_argument("wav", type=Path, nargs="?")
    parser.add_argument("--image", type=Path, help="make firmware-listen-emu's image (default: the one of --engine "
                        "and --opt under build/)")
    parser.add_argument("--resolve", metavar="PORT",
                        help="print the port and the make arguments of its emulated image instead (host/host.mk)")
    parser.add_argument("--engine", choices=ENGINES, default="native")
    parser.add_argument("--engine-given", action="store_true", help="ENGINE was set by the user (--resolve)")
    parser.add_argument("--kernels", choices=KERNELS, default="cmsis")
    parser.add_argument("--opt", choices=OPTS, default="Os")
    args = parser.parse_args(argv)
    if args.resolve is not None:
        def show() -> None:
            try:
                print(" ".join(resolve(args.resolve, args.engine, args.kernels, args.opt, args.engine_given)))
            except EmulatorError as e:
                raise PipelineError(str(e)) from None
        run_main(show)
        return
    if args.wav is None:
        parser.error("a WAV file (or --resolve PORT) is required")
    image = args.image or image_path(Path("build"), config_of(args.engine, args.kernels, args.opt)).with_name(
        LISTEN_IMAGE)
    run_main(lambda: _print_lines(image, args.wav))


def _print_lines(image: Path, wav: Path) -> None:
    from data.config import PipelineError

    try:
        run = listen_emulated(image, wav)
    except EmulatorError as e:
        raise PipelineError(str(e)) from None
    print("\n".join(run.lines))
    if len(run.hops) > 1:  # the first window computes every frame: apart
        later = sorted(h.instructions for h in run.hops[1:])
        print(f"instructions per hop: median {later[len(later) // 2]:,}, max {later[-1]:,} over {len(later)} hops "
              f"after the first window ({run.hops[0].instructions:,}); QEMU -icount shift=0, not board cycles")


if __name__ == "__main__":
    sys.exit(main())
