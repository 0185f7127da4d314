"""`make data`: downloads from a local HTTP server on 127.0.0.1 serving tiny archives made here (never the
internet): checksum, resume, truncated and corrupt archives, HTTP errors, and the unpacked layouts' loaders."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from data.config import CONFIG_PATH, PipelineError
from data.datasets import DIGITS, assign_splits, load_audiomnist, load_fsdd, load_speech_commands
from data.download import MARKER, Retry, Source, fetch_dataset
from test_bad_input import good
from conftest import run_stage

# Fast retries for tests: the real policy waits seconds between attempts.
FAST = Retry(attempts=3, backoff_s=0.01, timeout_s=10.0)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class ServerState:
    """What the test server serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)  # path -> error status to answer
    drops: dict[str, int] = field(default_factory=dict)  # path -> responses to cut off halfway
    no_range: set[str] = field(default_factory=set)  # paths served whole, ignoring Range (like generated archives)
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)
    sent: int = 0  # body bytes sent in all


class Handler(http.server.BaseHTTPRequestHandler):
    """GET with ``Range: bytes=N-`` support; can answer an error status or drop the connection mid-file."""

    def do_GET(self) -> None:
        state: ServerState = self.server.state  # type: ignore[attr-defined]
        state.requests.append((self.path, self.headers.get("Range")))
        if self.path in state.status:
            self.send_error(state.status[self.path])
            return
        body = state.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if m and self.path not in state.no_range:
            start = int(m.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        rest = body[start:]
        if state.drops.get(self.path, 0) > 0:  # an interrupted transfer: half the promised bytes, then close
            state.drops[self.path] -= 1
            rest = rest[:len(rest) // 2]
        self.wfile.write(rest)
        state.sent += len(rest)

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    """A threaded HTTP server on 127.0.0.1 (a free port) and its state."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.state = ServerState()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.state  # type: ignore[attr-defined]
    httpd.shutdown()
    httpd.server_close()


def tar_gz(files: dict[str, Path | bytes], commit: str | None = None) -> bytes:
    """A .tar.gz of ``{member name: file or bytes}``, with GitHub's pax ``comment`` header naming ``commit``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": commit} if commit else {}) as tar:
        for name, content in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def wav(tmp: Path, seed: int = 0) -> Path:
    path = tmp / f"word{seed}.wav"
    if not path.exists():
        good(path, seed)
    return path


def speech_commands_archive(tmp: Path) -> bytes:
    """Speech Commands v0.02's layout: no top folder, words, split lists, background noise."""
    files: dict[str, Path | bytes] = {}
    for word in ("one", "two", "cat"):
        for spk in ("aaaa1111", "bbbb2222", "cccc3333"):
            files[f"./{word}/{spk}_nohash_0.wav"] = wav(tmp)
    files["./_background_noise_/white_noise.wav"] = wav(tmp, 1)
    files["./validation_list.txt"] = b"one/bbbb2222_nohash_0.wav\ntwo/bbbb2222_nohash_0.wav\n"
    files["./testing_list.txt"] = b"one/cccc3333_nohash_0.wav\ntwo/cccc3333_nohash_0.wav\n"
    return tar_gz(files)


def audiomnist_archive(tmp: Path, speakers: tuple[int, ...] = (1, 2), commit: str = COMMIT) -> bytes:
    """AudioMNIST's GitHub archive: AudioMNIST-<commit>/data/<speaker>/<digit>_<speaker>_<take>.wav."""
    files: dict[str, Path | bytes] = {f"AudioMNIST-{commit}/data/audioMNIST_meta.txt": b"{}",
                                      f"AudioMNIST-{commit}/examples/not_a_take.wav": wav(tmp, 9)}
    for s in speakers:
        for d in range(10):
            files[f"AudioMNIST-{commit}/data/{s:02d}/{d}_{s:02d}_0.wav"] = wav(tmp, d)
    return tar_gz(files, commit)


def fsdd_archive(tmp: Path) -> bytes:
    """FSDD's release archive: free-spoken-digit-dataset-<tag>/recordings/<digit>_<speaker>_<n>.wav."""
    return tar_gz({f"free-spoken-digit-dataset-1.0.9/recordings/{d}_{spk}_0.wav": wav(tmp, d)
                   for d in range(10) for spk in ("george", "theo")})


def pinned(url: str, data: bytes, **kw: object) -> Source:
    """A source pinned like Speech Commands and FSDD: published size and SHA-256."""
    return Source(url=url, size=len(data), sha256=hashlib.sha256(data).hexdigest(), train="DATASET=x DATA_DIR={dir}",
                  licence="test", **kw)  # type: ignore[arg-type]


def commit_pinned(url: str, wavs: int) -> Source:
    """A source pinned like AudioMNIST: no published digest, the commit and the number of recordings."""
    return Source(url=url, size=None, sha256=None, commit=COMMIT, wavs=wavs, train="DATASET=x DATA_DIR={dir}",
                  licence="test", wav_glob="AudioMNIST-*/data/*/*.wav")


def nothing_extracted(dest: Path, name: str) -> bool:
    return not (dest / name).exists() and not list(dest.glob(f".{name}*"))


def one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("layout", ["speech_commands", "audiomnist", "fsdd"])
def test_download_verifies_unpacks_and_loads(layout: str, server: tuple[str, ServerState], tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    base, state = server
    archive = {"speech_commands": speech_commands_archive, "audiomnist": audiomnist_archive,
               "fsdd": fsdd_archive}[layout](tmp_path)
    state.files[f"/{layout}.tar.gz"] = archive
    url = f"{base}/{layout}.tar.gz"
    src = commit_pinned(url, 20) if layout == "audiomnist" else pinned(url, archive)
    dest = tmp_path / "downloads"
    final = fetch_dataset(layout, dest, {layout: src}, FAST)
    assert final == dest / layout and (final / MARKER).is_file()
    assert sorted(p.name for p in dest.iterdir()) == [layout]  # archive deleted, no staging left
    out = capsys.readouterr().out
    assert f"in {final} (test); train on it: make train quantize DATASET=x DATA_DIR={final}" in out
    if layout == "speech_commands":
        clips, official = load_speech_commands(final, DIGITS[1:3])
        splits = assign_splits(clips, 10, 10, official)
        assert {c.source for c in splits["test"]} == {"cccc3333"} and len(clips) == 6
    elif layout == "audiomnist":
        clips = load_audiomnist(final)
        assert {c.label for c in clips} == set(DIGITS) and {c.source for c in clips} == {"audiomnist-01",
                                                                                          "audiomnist-02"}
        assert [c.label for c in clips if c.path.name == "7_02_0.wav"] == ["seven"]
    else:
        clips = load_fsdd(final)
        assert len(clips) == 20 and {c.source for c in clips} == {"george", "theo"}
    # A second run finds the completed download and fetches nothing.
    requests = len(state.requests)
    assert fetch_dataset(layout, dest, {layout: src}, FAST) == final and len(state.requests) == requests
    assert "already downloaded" in capsys.readouterr().out


def test_interrupted_download_resumes_with_a_range_request(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    archive = fsdd_archive(tmp_path)
    state.files["/fsdd.tar.gz"] = archive
    state.drops["/fsdd.tar.gz"] = 2
    src = pinned(f"{base}/fsdd.tar.gz", archive)
    dest = tmp_path / "downloads"
    # A run whose only attempt is cut off: one line, the partial file kept, nothing unpacked.
    with pytest.raises(PipelineError) as e:
        fetch_dataset("fsdd", dest, {"fsdd": src}, Retry(attempts=1, backoff_s=0.0, timeout_s=10.0))
    kept = (dest / "fsdd.tar.gz.part").stat().st_size
    assert 0 < kept < len(archive) and "next run resumes" in one_line(e) and nothing_extracted(dest, "fsdd")
    # The next run resumes at that byte; its first attempt is cut off again and the retry resumes further on.
    fetch_dataset("fsdd", dest, {"fsdd": src}, FAST)
    ranges = [r for _, r in state.requests]
    assert ranges[0] is None and ranges[1] == f"bytes={kept}-" and ranges[2].startswith("bytes=")
    assert int(ranges[2][6:-1]) > kept and state.sent == len(archive)  # no byte sent twice
    assert len(load_fsdd(dest / "fsdd")) == 20


def test_server_without_range_support_restarts_the_file(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    archive = fsdd_archive(tmp_path)
    state.files["/fsdd.tar.gz"] = archive
    state.drops["/fsdd.tar.gz"] = 1
    state.no_range.add("/fsdd.tar.gz")
    final = fetch_dataset("fsdd", tmp_path, {"fsdd": pinned(f"{base}/fsdd.tar.gz", archive)}, FAST)
    assert [r is not None for _, r in state.requests] == [False, True]  # asked to resume, got the whole file
    assert len(load_fsdd(final)) == 20


def test_truncated_archive_is_refused_and_nothing_is_unpacked(server: tuple[str, ServerState],
                                                              tmp_path: Path) -> None:
    base, state = server
    archive = audiomnist_archive(tmp_path)
    state.files["/short.tar.gz"] = archive[:len(archive) * 2 // 3]  # served completely, but cut
    dest = tmp_path / "downloads"
    # Pinned size and SHA-256: refused before unpacking.
    with pytest.raises(PipelineError) as e:
        fetch_dataset("fsdd", dest, {"fsdd": pinned(f"{base}/short.tar.gz", archive)}, FAST)
    assert re.search(r"short\.tar\.gz: got [\d,]+ bytes, the pinned size is [\d,]+ \(truncated", one_line(e))
    assert nothing_extracted(dest, "fsdd") and not list(dest.glob("*.part"))
    # Pinned by commit only (AudioMNIST): gzip/tar notice the cut; the staging folder and the archive are removed.
    with pytest.raises(PipelineError) as e:
        fetch_dataset("audiomnist", dest, {"audiomnist": commit_pinned(f"{base}/short.tar.gz", 20)}, FAST)
    assert "the archive is truncated or corrupt" in one_line(e) and "nothing extracted" in str(e.value)
    assert nothing_extracted(dest, "audiomnist") and not list(dest.glob("*.part"))


def test_wrong_checksum_or_content_is_refused(server: tuple[str, ServerState], tmp_path: Path) -> None:
    base, state = server
    archive = fsdd_archive(tmp_path)
    state.files["/fsdd.tar.gz"] = archive
    dest = tmp_path / "downloads"
    wrong = Source(url=f"{base}/fsdd.tar.gz", size=len(archive), sha256="0" * 64, train="", licence="test")
    with pytest.raises(PipelineError) as e:
        fetch_dataset("fsdd", dest, {"fsdd": wrong}, FAST)
    assert f"differs from the pinned {'0' * 64} (corrupt or changed" in one_line(e)
    assert nothing_extracted(dest, "fsdd") and not list(dest.glob("*.part"))
    # A commit-pinned archive of another commit, or with other recordings, is refused too.
    state.files["/other.tar.gz"] = audiomnist_archive(tmp_path, commit="f" * 40)
    with pytest.raises(PipelineError, match=f"names commit {'f' * 40}, the pinned one is {COMMIT}"):
        fetch_dataset("audiomnist", dest, {"audiomnist": commit_pinned(f"{base}/other.tar.gz", 20)}, FAST)
    state.files["/few.tar.gz"] = audiomnist_archive(tmp_path, speakers=(1,))
    with pytest.raises(PipelineError, match="10 WAV files, the pinned content has 20"):
        fetch_dataset("audiomnist", dest, {"audiomnist": commit_pinned(f"{base}/few.tar.gz", 20)}, FAST)
    assert nothing_extracted(dest, "audiomnist")
    # A member that would land outside the destination refuses the archive (checked before it is written).
    evil = tar_gz({"fsdd/../../evil.wav": b"x"})
    state.files["/evil.tar.gz"] = evil
    with pytest.raises(PipelineError, match="unsafe member name 'fsdd/../../evil.wav'"):
        fetch_dataset("fsdd", dest, {"fsdd": pinned(f"{base}/evil.tar.gz", evil)}, FAST)
    assert nothing_extracted(dest, "fsdd") and not (tmp_path / "evil.wav").exists()


@pytest.mark.parametrize("status, requests", [(404, 1), (500, FAST.attempts), (503, FAST.attempts)])
def test_http_errors_end_in_one_line(status: int, requests: int, server: tuple[str, ServerState],
                                     tmp_path: Path) -> None:
    base, state = server
    state.status["/x.tar.gz"] = status
    src = Source(url=f"{base}/x.tar.gz", size=10, sha256="0" * 64, train="", licence="test")
    with pytest.raises(PipelineError) as e:
        fetch_dataset("x", tmp_path, {"x": src}, FAST)
    text = one_line(e)
    assert text.startswith(f"{base}/x.tar.gz: download failed") and f"HTTP {status}" in text
    if status != 404:  # a final status is not retried
        assert f"after {FAST.attempts} attempts" in text
    assert len(state.requests) == requests and nothing_extracted(tmp_path, "x")


def test_unreachable_server_ends_in_one_line(tmp_path: Path) -> None:
    src = Source(url="http://127.0.0.1:9/x.tar.gz", size=10, sha256="0" * 64, train="", licence="test")
    with pytest.raises(PipelineError, match=r"x\.tar\.gz: download failed after 3 attempts \(.*refused"):
        fetch_dataset("x", tmp_path, {"x": src}, FAST)


def test_a_host_name_that_does_not_resolve_fails_at_once(tmp_path: Path) -> None:
    """No network (or no such host): one line after the first attempt, not after every retry's wait."""
    src = Source(url="http://no-such-host.invalid/x.tar.gz", size=10, sha256="0" * 64, train="", licence="test")
    with pytest.raises(PipelineError, match=r"x\.tar\.gz: download failed: the host name no-such-host\.invalid does "
                                            r"not resolve \(.*\); is this machine offline\?$"):
        fetch_dataset("x", tmp_path, {"x": src}, Retry(attempts=3, backoff_s=0.5, timeout_s=5.0))
    assert list(tmp_path.iterdir()) == []  # nothing received, nothing kept


def test_make_data_refuses_an_unknown_dataset_in_one_line() -> None:
    proc = run_stage("data.download", "synth", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: unknown dataset 'synth' for make data; choose one of speech_commands, "
                                   "audiomnist, fsdd")


def test_downloaded_audiomnist_feeds_the_data_stage(server: tuple[str, ServerState], tmp_path: Path) -> None:
    """The unpacked archive trains as `make train quantize DATASET=audiomnist DATA_DIR=...` (the data stage)."""
    base, state = server
    # Speakers 15 and 3 fall into the test and validation splits (hash buckets), the others train.
    state.files["/a.tar.gz"] = audiomnist_archive(tmp_path, speakers=(1, 2, 4, 3, 15))
    final = fetch_dataset("audiomnist", tmp_path / "downloads", {"audiomnist": commit_pinned(f"{base}/a.tar.gz", 50)},
                          FAST)
    build = tmp_path / "build"
    plain = tmp_path / "plain.toml"  # the digits alone: the default's nothing classes would add their own clips
    plain.write_text(re.sub(r"(?m)^extra_classes = .*$", "extra_classes = []", CONFIG_PATH.read_text()))
    run_stage("data", "--dataset", "audiomnist", "--data-dir", str(final), "--smoke", "--build", str(build),
              config=plain)
    summary = json.loads((build / "features" / "dataset.json").read_text())
    assert {split: s["clips"] for split, s in summary["splits"].items()} == {"train": 30, "val": 10, "test": 10}
