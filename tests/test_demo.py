"""``make demo`` in a real headless browser: Debian's ``chromium`` driven by Playwright (PyPI, no downloaded
browser) against ``python -m demo`` serving a smoke model with the virtual device as its device backend."""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from conftest import IN_CI, REPO, run_stage

CHROMIUM = Path("/usr/bin/chromium")
# The demo imports TensorFlow, loads three models and starts the virtual device before it serves (2 shared cores).
START_TIMEOUT_S = 240
STOP_TIMEOUT_S = 30
# A page element's wait; the first clip also warms up TensorFlow.
PAGE_TIMEOUT_MS = 120_000
SERVED_HOST = "127.0.0.1"
HARNESS_CLIPS = 3
# Seconds of microphone recording (the fake device loops the test clip: at least one whole word).
RECORD_S = 2.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind((SERVED_HOST, 0))
        return s.getsockname()[1]


def demo_env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(REPO), "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                         "PYTHONWARNINGS": "ignore"}


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium; checked before anything is built for the browser tests."""
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: CI must run the browser test (.ci/run installs Debian chromium)")
        pytest.skip(f"no {CHROMIUM} (Debian package chromium) for the headless browser test")
    return CHROMIUM


@pytest.fixture(scope="module")
def spoken_clip(smoke_build: Path) -> Path:
    """A clip of the smoke model's test split."""
    from data.datasets import load_split

    return Path(str(load_split(smoke_build / "features" / "test.npz")["ids"][0]))


@pytest.fixture(scope="module")
def browser(chromium: Path, spoken_clip: Path) -> Iterator[object]:
    """Headless Chromium whose microphone plays ``spoken_clip`` in a loop (Chromium's fake capture device)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        b = p.chromium.launch(executable_path=str(chromium), args=[
            "--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={spoken_clip}"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo_build(smoke_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke model (linked, not copied) with a harness report of 3 clips on the virtual device of its own, so
    the shared smoke build stays as the pipeline left it."""
    build = tmp_path_factory.mktemp("demo_build")
    for entry in smoke_build.iterdir():
        (build / entry.name).symlink_to(entry)
    run_stage("host.harness", "--port", "virtual", "--build", str(build), "-n", str(HARNESS_CLIPS))
    return build


@pytest.fixture(scope="module")
def demo_url(browser: object, demo_build: Path) -> Iterator[str]:
    """``python -m demo`` on a free port with the smoke model and ``--port virtual``; its URL once it serves."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "demo", "--build", str(demo_build), "--http-port", str(port),
                             "--port", "virtual"], cwd=REPO, env=demo_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    url = f"http://{SERVED_HOST}:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        line = ""
        while url not in line:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"the demo did not start within {START_TIMEOUT_S} s: {proc.communicate()[1][-3000:]}")
            line = proc.stdout.readline()
        yield url
    finally:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split() if proc.poll() is None else []
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            pytest.fail(f"the demo did not stop within {STOP_TIMEOUT_S} s of SIGTERM")
        left = [pid for pid in children if Path(f"/proc/{pid}").exists()]
        assert not left, f"the demo left its virtual device running (pids {left})"


@pytest.fixture
def page(browser: object, demo_url: str) -> Iterator[tuple[object, list[str]]]:
    """A fresh page of the demo and the URLs of every request it makes."""
    requests: list[str] = []
    context = browser.new_context(permissions=["microphone"])
    p = context.new_page()
    p.on("request", lambda r: requests.append(r.url))
    p.goto(demo_url)
    p.wait_for_selector("#clip input[type=file]", state="attached", timeout=PAGE_TIMEOUT_MS)
    yield p, requests
    context.close()


def assert_local(requests: list[str]) -> None:
    """Every request went to the demo's host (data: and blob: URLs stay in the page)."""
    hosts = {urlsplit(u).hostname for u in requests if not u.startswith(("data:", "blob:"))}
    assert requests and hosts == {SERVED_HOST}, f"requests to {hosts}"


def wait_text(p: object, selector: str) -> str:
    """The text of ``selector`` once it has some (a Markdown element's own text, not its progress timer)."""
    if selector.startswith("#"):
        selector += " [data-testid=markdown]"
    p.wait_for_function(f"() => (document.querySelector({json.dumps(selector)})?.textContent || '').trim()",
                        timeout=PAGE_TIMEOUT_MS)
    return (p.text_content(selector) or "").strip()


def runtime_labels(build: Path, clip: Path) -> dict[str, str]:
    """The answer to ``clip`` on each host backend (the word, "not a word (…)" or "low confidence (…)"), computed
    here with the runtime."""
    from host.answers import answers
    from host.predict import predict
    from host.runtime import HOST_BACKENDS, Runtime

    with Runtime.open(build, warn=False) as rt:
        x_raw = rt.features(clip)
        return {name: str(answers(rt, name, predict(rt, x_raw, name)[None])[0]) for name in HOST_BACKENDS}


def assert_prediction_shown(p: object, expected: dict[str, str]) -> None:
    """The page shows the runtime's TFLM answer, and each backend's row its runtime answer."""
    p.wait_for_function("() => document.querySelector('#label textarea')?.value", timeout=PAGE_TIMEOUT_MS)
    assert p.input_value("#label textarea") == expected["tflm"]
    wait_text(p, "#summary")
    rows = p.eval_on_selector_all("#summary tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    shown = {backend.strip(): answer.strip() for backend, answer, _, _ in rows}
    assert shown == expected | {"device": expected["tflm"]}  # the virtual device computes with TFLM
    assert p.locator("#mfcc img, #mfcc canvas, #mfcc svg").count() > 0
    assert (p.text_content("#message [data-testid=markdown]") or "").strip() == ""


@pytest.mark.slow
def test_uploaded_clip_shows_the_runtime_prediction_of_every_backend(page: tuple, demo_build: Path,
                                                                     spoken_clip: Path) -> None:
    p, requests = page
    expected = runtime_labels(demo_build, spoken_clip)
    p.set_input_files("#clip input[type=file]", str(spoken_clip))
    assert_prediction_shown(p, expected)
    assert_local(requests)


@pytest.mark.slow
def test_a_microphone_recording_is_predicted(page: tuple, demo_build: Path, tmp_path: Path) -> None:
    p, requests = page
    p.get_by_role("button", name="Record audio").click()
    p.get_by_role("button", name="Record", exact=True).click()
    time.sleep(RECORD_S)
    p.locator("#clip button:visible", has_text="Stop").first.click()
    # The recording as the page sent it to the server (its download link): the runtime's labels of that file.
    p.wait_for_selector("#clip a[download]", timeout=PAGE_TIMEOUT_MS)
    recording = tmp_path / "recording.wav"
    recording.write_bytes(p.request.get(p.get_attribute("#clip a[download]", "href")).body())
    assert_prediction_shown(p, runtime_labels(demo_build, recording))
    assert_local(requests)


# A WAV name passes the browser's file-type filter and is refused by the pipeline's audio check; another name is
# refused by the page itself before any upload (Gradio's notice).
@pytest.mark.parametrize("name, selector, message", [
    ("notes.wav", "#message", "error: notes.wav: not a readable WAV file"),
    ("notes.txt", "[data-testid=toast-text]", "Invalid file type: notes.txt. Only audio/")])
@pytest.mark.slow
def test_a_file_that_is_not_audio_is_refused_on_the_page(page: tuple, tmp_path: Path, name: str, selector: str,
                                                         message: str) -> None:
    p, requests = page
    path = tmp_path / name
    path.write_text("this is not audio\n")
    p.set_input_files("#clip input[type=file]", str(path))
    shown = wait_text(p, selector)
    assert shown.startswith(message), shown
    assert p.input_value("#label textarea") == ""
    assert_local(requests)


@pytest.mark.slow
def test_the_latest_harness_report_is_shown_with_its_plots(page: tuple, demo_build: Path) -> None:
    p, requests = page
    summary = json.loads((demo_build / "harness" / "summary.json").read_text())
    p.get_by_text("Latest harness report").click()
    report = wait_text(p, "#report")
    assert report.startswith("Host harness report") and f"{summary['clips']} clips (test split)" in report
    p.wait_for_function("() => [...document.querySelectorAll('#report-plots img')].filter(i => i.naturalWidth > 0)"
                        ".length == 2", timeout=PAGE_TIMEOUT_MS)
    assert_local(requests)


def test_without_a_model_one_line_says_to_build_it(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "demo", "--build", str(tmp_path), "--http-port", str(free_port())],
                          cwd=REPO, env=demo_env(), capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {tmp_path / 'model_meta.json'}: missing; run `make train quantize` first"]


def test_harness_report_without_a_run_or_without_report_md(tmp_path: Path) -> None:
    from demo.app import NO_REPORT, harness_report

    assert harness_report(tmp_path) == (NO_REPORT, [])
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "summary.json").write_text(json.dumps({"clips": 3}))  # harness --no-report
    text, plots = harness_report(tmp_path)
    assert '"clips": 3' in text and plots == []


def test_a_port_in_use_is_refused_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((SERVED_HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        # The port is checked first, before the (here missing) model.
        proc = subprocess.run([sys.executable, "-m", "demo", "--build", str(tmp_path), "--http-port", str(port)],
                              cwd=REPO, env=demo_env(), capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"error: {SERVED_HOST}:{port}: Address already in use; choose another port "
                                        "with DEMO_PORT= (python -m demo --http-port)"]
