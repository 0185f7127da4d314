"""Transport: a serial port (or any pyserial URL) read and written as protocol lines, and port auto-detection."""
from __future__ import annotations

import time

import serial
from serial.tools import list_ports

from host.protocol import EOL, PROTO_MAX_LINE

ARDUINO_VID = 0x2341  # USB vendor id of Arduino SA (Nano 33 BLE: 0x2341:0x805A)
BAUD_RATE = 115200  # ignored by USB CDC, used by UART bridges and rfc2217 (PROTOCOL.md: 115200 8-N-1)
OPEN_ATTEMPTS = 3  # a port busy with another program (serial monitor) often frees up within seconds
OPEN_RETRY_DELAY_S = 1.0  # pause between attempts to open a busy port
REOPEN_ATTEMPTS = 10  # after a USB reset the CDC port disappears and re-enumerates, typically within 1-3 s
REOPEN_DELAY_S = 0.5  # pause between attempts to reopen a vanished port
# A line longer than this is garbage (the protocol caps lines at PROTO_MAX_LINE): drop it rather than buffer forever.
MAX_BUFFERED_LINE = 4 * PROTO_MAX_LINE


class LinkError(Exception):
    """The port cannot be opened, or failed while open (device unplugged, emulator killed)."""


def find_arduino_port() -> str:
    """Device path of the single connected Arduino (USB VID ``0x2341``).

    Returns
    -------
    str
        For example ``/dev/ttyACM0``.

    Raises
    ------
    LinkError
        No Arduino, or more than one.
    """
    ports = sorted(p.device for p in list_ports.comports() if p.vid == ARDUINO_VID)
    if not ports:
        raise LinkError(f"no Arduino (USB VID 0x{ARDUINO_VID:04X}) found; connect the board or pass PORT=<port>")
    if len(ports) > 1:
        raise LinkError(f"several Arduinos found ({', '.join(ports)}); choose one with PORT=<port>")
    return ports[0]


class SerialLink:
    """A protocol-line view of one port: write bytes, read ``\\n``-terminated lines with a deadline.

    Parameters
    ----------
    url : str
        A device path (``/dev/ttyACM0``, a pty) or any pyserial URL (``socket://host:port``, ``rfc2217://…``).
    open_attempts : int
        Tries to open a busy port before giving up.
    """

    def __init__(self, url: str, open_attempts: int = OPEN_ATTEMPTS) -> None:
        self.url = url
        self._buffer = bytearray()
        self._port: serial.SerialBase | None = None
        self._open(open_attempts, OPEN_RETRY_DELAY_S)

    def _open(self, attempts: int, delay_s: float) -> None:
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                time.sleep(delay_s)
            try:
                # exclusive: a second program on the same port would steal replies; fail clearly instead
                self._port = serial.serial_for_url(self.url, baudrate=BAUD_RATE, timeout=0, exclusive=True)
                self._buffer.clear()
                return
            except (serial.SerialException, OSError, ValueError) as e:
                last = e
        raise LinkError(f"cannot open port: {last}")

    def reopen(self) -> None:
        """Close and open the port again (after a device reset re-enumerated it), discarding buffered input."""
        self.close()
        self._open(REOPEN_ATTEMPTS, REOPEN_DELAY_S)

    def close(self) -> None:
        """Close the port; safe to call twice."""
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                pass  # the device is already gone: nothing left to release
            self._port = None

    def write(self, data: bytes) -> None:
        """Send ``data`` completely."""
        try:
            self._require().write(data)
            self._require().flush()
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"write failed: {e}") from None

    def discard_input(self) -> None:
        """Drop everything received but not yet read (stale replies before a re-synchronisation)."""
        self._buffer.clear()
        try:
            self._require().reset_input_buffer()
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"cannot flush input: {e}") from None

    def read_line(self, timeout_s: float) -> bytes | None:
        """Next line including its ``\\n``, or ``None`` when none completes within ``timeout_s``.

        pyserial's ``readline`` reads one byte per call; reading what is waiting and splitting here keeps the
        harness fast enough for 1,000 clips a minute.
        """
        deadline = time.monotonic() + timeout_s
        port = self._require()
        while True:
            end = self._buffer.find(EOL)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_BUFFERED_LINE:
                self._buffer.clear()  # a runaway line of noise: the protocol can never complete it
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                port.timeout = remaining
                chunk = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError) as e:
                raise LinkError(f"read failed: {e}") from None
            self._buffer += chunk

    def _require(self) -> serial.SerialBase:
        if self._port is None:
            raise LinkError("port is closed")
        return self._port

    def __enter__(self) -> "SerialLink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
