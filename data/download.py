"""`make data NAME=speech_commands|audiomnist|fsdd`: download a full public dataset from its official source.

    python -m data.download speech_commands|audiomnist|fsdd [--dest data/downloads]

The archive is written to ``<dest>/<name>.tar.gz.part`` (kept after an interruption: the next run resumes it with an
HTTP Range request), checked against its pinned size and SHA-256, unpacked into a staging folder and renamed to
``<dest>/<name>`` only when everything succeeded; the archive is then deleted. A failed, truncated or corrupt
download ends in one line naming the URL and the reason, with nothing half-extracted left behind.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import shutil
import socket
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

from data.config import PipelineError, run_main

# Where `make data` puts datasets (gitignored; `make clean` does not remove it: the downloads are large).
DEFAULT_DEST = Path("data/downloads")
# Seconds a connection may stay silent (connecting, or between two reads) before the attempt fails.
TIMEOUT_S = 60.0
# Attempts per download: a dropped connection, a timeout or a retryable HTTP status is retried, resuming where
# the previous attempt stopped.
ATTEMPTS = 5
# Wait before retry k (k = 1, 2, ...): RETRY_BACKOFF_S * 2 ** (k - 1) seconds.
RETRY_BACKOFF_S = 2.0
# HTTP statuses that a later attempt can cure; any other error status (404, 403, ...) is final at once.
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Bytes read per network read (and per checksum update).
CHUNK_BYTES = 1 << 20
# Written into the dataset folder last: a folder without it is not a completed download.
MARKER = ".download.json"
ARCHIVE_SUFFIX = ".tar.gz"
# Python's own extraction safety filter where it has one (3.11.4 and later); the member check below applies always.
EXTRACT_FILTER: dict[str, str] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


@dataclass(frozen=True)
class Retry:
    """How hard to try: attempts, the base of the exponential wait between them, and the network timeout."""

    attempts: int = ATTEMPTS
    backoff_s: float = RETRY_BACKOFF_S
    timeout_s: float = TIMEOUT_S


@dataclass(frozen=True)
class Source:
    """A dataset archive (``.tar.gz``) and what pins its content.

    ``size`` and ``sha256`` are the published values (``None`` where none is published). ``commit`` is the git
    commit that a GitHub archive names in its pax header, and ``wavs`` the number of WAV files the archive must
    hold (those matching ``wav_glob``): with the tar and gzip checksums they pin a source without a published
    digest. ``train`` is how to train
    on the unpacked folder (``{dir}`` is replaced by it)."""

    url: str
    size: int | None
    sha256: str | None
    train: str
    licence: str
    commit: str | None = None
    wavs: int | None = None
    wav_glob: str = "**/*.wav"  # the recordings, relative to the unpacked archive


SOURCES: dict[str, Source] = {
    # Speech Commands v0.02 (Warden 2018), CC BY 4.0. Size and SHA-256 as published by TensorFlow Datasets
    # (tensorflow_datasets/url_checksums/speech_commands.txt, for http://download.tensorflow.org/data/..., which is
    # this Google Cloud Storage object); torchaudio's SPEECHCOMMANDS pins the same SHA-256.
    "speech_commands": Source(
        url="https://storage.googleapis.com/download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        size=2_428_923_189, sha256="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        # SKIP_BAD=1: one odd clip among 38,546 crowd-sourced ones must not stop a 15-minute data stage (it is
        # listed in dataset.json instead). tests/test_scale.py runs this command's data stage on a rehearsal set.
        train="DATASET=speech_commands DATA_DIR={dir} NOISE_DIR={dir}/_background_noise_ SKIP_BAD=1",
        licence="CC BY 4.0"),
    # AudioMNIST (Becker et al. 2023), MIT licence, 60 speakers x 10 digits x 50 takes, 48 kHz. No checksum of any
    # archive is published (GitHub generates archives on request). Pinned instead: the commit (the archive must
    # name it in its pax header) and the 30,000 recordings the authors' README counts; gzip's CRC and the tar
    # header checksums catch a truncated or corrupt transfer.
    "audiomnist": Source(
        url="https://github.com/soerenab/AudioMNIST/archive/8d77a2d8754105541742115cefec1e537040a6cf.tar.gz",
        size=None, sha256=None, commit="8d77a2d8754105541742115cefec1e537040a6cf", wavs=30_000,
        wav_glob="AudioMNIST-*/data/*/*.wav",
        train="DATASET=audiomnist DATA_DIR={dir}", licence="MIT"),
    # Free Spoken Digit Dataset v1.0.9 (5 speakers, 2,500 recordings, 8 kHz), CC BY-SA 4.0. Size and SHA-256 as
    # published by TensorFlow Datasets (tensorflow_datasets/datasets/spoken_digit/checksums.tsv). Five speakers
    # cannot fill three speaker-wise splits, so it trains alongside the synthetic set.
    "fsdd": Source(
        url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz",
        size=11_975_353, sha256="8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0",
        train="DATASET=fsdd+synth FSDD_DIR={dir}", licence="CC BY-SA 4.0"),
}


class _Retryable(Exception):
    """A failed attempt that a later one may cure (the connection closed early, the server restarted the file)."""


def _reason(e: BaseException) -> str:
    """One line for a network error."""
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return str(e) or type(e).__name__


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range: bytes first-last/total`` (or ``bytes */total``) header."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    first = span.split("-")[0]
    return (int(first) if first.isdigit() else None), (int(total) if total.isdigit() else None)


def _transfer(name: str, src: Source, part: Path, timeout_s: float) -> None:
    """One attempt: fetch what ``part`` lacks (all of it, or the rest with a Range request).

    Raises ``_Retryable``, ``urllib.error.URLError``, ``http.client.HTTPException`` or ``OSError`` on failure."""
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    if src.size is not None and have >= src.size:
        if have == src.size:
            return
        part.unlink()  # longer than the published size: not this file
        have = 0
    request = urllib.request.Request(src.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: complete if the server's size is what we have
            if _content_range(e.headers.get("Content-Range"))[1] == have:
                return
            part.unlink()
            raise _Retryable("the server refused to resume the partial download; starting over") from None
        raise
    with response:
        if have and response.status != 206:
            have = 0  # the server ignored the range: it sends the whole file again
        elif have and _content_range(response.headers.get("Content-Range"))[0] != have:
            part.unlink()
            raise _Retryable("the server resumed at another offset than asked; starting over")
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else src.size
        with open(part, "ab" if have else "wb") as f, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                                            unit_divisor=1024, desc=name, mininterval=1.0) as bar:
            while chunk := response.read(CHUNK_BYTES):
                f.write(chunk)
                bar.update(len(chunk))
    got = part.stat().st_size
    if total is not None and got < total:
        raise _Retryable(f"the connection closed after {got:,} of {total:,} bytes")


def download(name: str, src: Source, part: Path, retry: Retry) -> None:
    """Download ``src`` into ``part``, resuming what is there; one ``PipelineError`` after the last attempt."""
    last: BaseException | None = None
    for attempt in range(1, retry.attempts + 1):
        if attempt > 1:
            time.sleep(retry.backoff_s * 2 ** (attempt - 2))
        try:
            _transfer(name, src, part, retry.timeout_s)
            return
        except urllib.error.HTTPError as e:
            if e.code not in RETRYABLE_STATUS:
                raise PipelineError(f"{src.url}: download failed ({_reason(e)})") from None
            last = e
        except urllib.error.URLError as e:
            if isinstance(e.reason, socket.gaierror):  # no name service (offline) or no such host: waiting won't help
                host = urllib.parse.urlsplit(src.url).hostname
                raise PipelineError(f"{src.url}: download failed: the host name {host} does not resolve "
                                    f"({e.reason.strerror or e.reason}); is this machine offline?") from None
            last = e
        except (_Retryable, http.client.HTTPException, OSError) as e:
            last = e
    kept = part.stat().st_size if part.exists() else 0
    resume = f"; the {kept:,} bytes received stay in {part} and the next run resumes" if kept else ""
    raise PipelineError(f"{src.url}: download failed after {retry.attempts} attempts ({_reason(last)}){resume}")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def verify(src: Source, archive: Path) -> str:
    """Check the complete archive against the pinned size and SHA-256; returns its SHA-256. A file that fails is
    removed (a resumed download would never repair it)."""
    size = archive.stat().st_size
    if src.size is not None and size != src.size:
        archive.unlink()
        raise PipelineError(f"{src.url}: got {size:,} bytes, the pinned size is {src.size:,} (truncated or changed; "
                            f"removed, run again to download it anew)")
    digest = sha256_of(archive)
    if src.sha256 is not None and digest != src.sha256:
        archive.unlink()
        raise PipelineError(f"{src.url}: SHA-256 {digest} differs from the pinned {src.sha256} (corrupt or changed; "
                            f"removed, run again to download it anew)")
    return digest


def _safe_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The archive's files and folders, read once in order; links and devices are skipped (a dataset needs
    neither), a name that would land outside the destination refuses the archive."""
    for member in tar:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise tarfile.TarError(f"unsafe member name {member.name!r}")
        if member.isfile() or member.isdir():
            yield member


def extract(src: Source, archive: Path, final: Path, digest: str) -> int:
    """Unpack ``archive`` into a staging folder next to ``final`` and rename it to ``final`` once the content
    checks pass; returns the number of WAV files. The staging folder never survives."""
    staging = final.with_name(f".{final.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            commit = tar.pax_headers.get("comment")
            if src.commit is not None and commit != src.commit:
                raise tarfile.TarError(f"the archive names commit {commit}, the pinned one is {src.commit}")
            tar.extractall(staging, members=_safe_members(tar), **EXTRACT_FILTER)
        wavs = sum(1 for _ in staging.glob(src.wav_glob))
        if src.wavs is not None and wavs != src.wavs:
            raise tarfile.TarError(f"{wavs:,} WAV files, the pinned content has {src.wavs:,}")
        (staging / MARKER).write_text(json.dumps({"url": src.url, "bytes": archive.stat().st_size, "sha256": digest,
                                                  "commit": commit, "wavs": wavs}, indent=1))
        staging.rename(final)
        return wavs
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        archive.unlink()
        raise PipelineError(f"{src.url}: the archive is truncated or corrupt ({e}); removed, nothing extracted, run "
                            f"again to download it anew") from None
    except OSError as e:
        raise PipelineError(f"{staging}: cannot unpack {archive} ({e.strerror or e}); nothing extracted, the "
                            f"verified archive stays for the next run") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_dataset(name: str, dest: Path = DEFAULT_DEST, sources: dict[str, Source] = SOURCES,
                  retry: Retry = Retry()) -> Path:
    """Download, verify and unpack dataset ``name`` into ``dest/name`` (nothing to do when it is already there);
    prints one closing line with how to train on it. ``sources`` is the table of URLs and pins."""
    if name not in sources:
        raise PipelineError(f"unknown dataset {name!r} for make data; choose one of {', '.join(sources)}")
    src = sources[name]
    final = dest / name
    if (final / MARKER).is_file():
        wavs = json.loads((final / MARKER).read_text())["wavs"]
        print(f"{name}: already downloaded, {wavs:,} WAV files in {final} ({src.licence}); train on it: "
              f"make train quantize {src.train.format(dir=final)}")
        return final
    if final.exists():
        raise PipelineError(f"{final}: exists but is not a completed download (no {MARKER}); remove it or choose "
                            f"another DEST=")
    dest.mkdir(parents=True, exist_ok=True)
    part = dest / f"{name}{ARCHIVE_SUFFIX}.part"
    download(name, src, part, retry)
    digest = verify(src, part)
    wavs = extract(src, part, final, digest)
    part.unlink()
    print(f"{name}: {wavs:,} WAV files in {final} ({src.licence}); train on it: "
          f"make train quantize {src.train.format(dir=final)}")
    return final


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m data.download", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", help=f"one of {', '.join(SOURCES)}")
    p.add_argument("--dest", type=Path, default=DEFAULT_DEST, help="folder that receives <dataset>/")
    return p.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    run_main(lambda: fetch_dataset(args.dataset, args.dest))
