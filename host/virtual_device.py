"""Virtual device: a pseudo-terminal that speaks the firmware's protocol, so the harness runs without a board.

``python -m host.virtual_device [--build build] [--backend tflm|fake] [--link PATH] [faults]`` opens a pty, prints
``virtual device on /dev/pts/N`` on stdout, writes ``BOOT`` and the self-test line to the pty like the firmware,
then answers commands until killed. The protocol is :class:`host.virtual_session.DeviceSession`; what it computes,
:mod:`host.virtual_backends` (``fake``: the reference fake inference of PROTOCOL.md, ``tflm``: the int8 model).
The fault options (``--fault-rate``, ``--seed``, ``--reset-every``, ``--garbage-after``, ``--die-after``) damage the
byte streams deterministically (:mod:`host.faults`). Host tools start it as a child process through
:class:`host.ports.VirtualDeviceProcess`.
"""
from __future__ import annotations

import argparse
import os
import select
import sys
import tty
from pathlib import Path

from data.config import run_main
from host.faults import FaultInjector
from host.ports import VIRTUAL_ANNOUNCE
from host.virtual_backends import Backend, FakeBackend, TflmBackend
from host.virtual_session import DeviceSession

STREAM_INTERVAL_S = 0.2  # pause between two STREAM predictions, so a person can read them


def serve(session: DeviceSession, faults: FaultInjector, link: Path | None = None) -> None:
    """Open a pty, announce its path on stdout and answer on it forever.

    Parameters
    ----------
    session : DeviceSession
        The protocol state machine.
    faults : FaultInjector
        Damage applied to both directions (none by default).
    link : Path or None
        Also make this symlink point at the pty, so a restarted device is found at the same name.
    """
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no newline translation: a byte stream like USB CDC
    path = os.ttyname(slave)
    if link is not None:
        tmp = link.with_name(link.name + ".tmp")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(path)
        tmp.replace(link)  # atomic: a client never sees the link missing
    print(f"{VIRTUAL_ANNOUNCE}{path}", flush=True)
    os.write(master, session.boot())
    # the slave stays open here, so the master never sees EOF while the harness closes and reopens the port
    while True:
        ready, _, _ = select.select([master], [], [], STREAM_INTERVAL_S if session.streaming else None)
        if not ready:
            os.write(master, session.idle())
            continue
        reply = faults.respond(session, os.read(master, 4096))
        if faults.dead:
            os._exit(3)  # like a killed process: no reply, no cleanup, the pty vanishes
        if reply:
            os.write(master, reply)


def main(argv: list[str] | None = None) -> None:
    """Command line of the virtual device."""
    parser = argparse.ArgumentParser(prog="python -m host.virtual_device", description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=Path("build"), help="build directory of the model")
    parser.add_argument("--backend", choices=("tflm", "fake"), default="tflm",
                        help="tflm: the int8 model; fake: the reference fake inference of the golden vectors")
    parser.add_argument("--link", type=Path, help="symlink to the pty, stable across restarts")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of damaging each line")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault injection")
    parser.add_argument("--reset-every", type=int, default=0, help="simulate a reset every N received lines")
    parser.add_argument("--garbage-after", type=int, default=0, help="answer noise after N received lines")
    parser.add_argument("--die-after", type=int, default=0, help="exit abruptly on the Nth received line")
    args = parser.parse_args(argv)

    def run() -> None:
        if args.backend == "fake":
            backend: Backend = FakeBackend()
        else:
            backend = TflmBackend(args.build)
        serve(DeviceSession(backend), FaultInjector(args.fault_rate, args.seed, args.reset_every,
                                                    args.garbage_after, args.die_after), args.link)

    run_main(run, tensorflow=args.backend == "tflm")


if __name__ == "__main__":
    sys.exit(main())
