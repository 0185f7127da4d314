"""The demo page: record or upload a clip, see its MFCCs and every backend's scores side by side, and the latest
harness report.

Everything model-related goes through :class:`host.runtime.Runtime` (features, normalization, quantization and the
backends come from the model's metadata), so the page shows exactly what ``make predict`` and the harness compute.
The page is served on 127.0.0.1 only and works offline: Gradio's analytics are off and its default theme uses
local fonts, so the browser requests nothing from another host (tests/test_demo.py checks it).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from data.config import PipelineError
from host.answers import answers, file_is_tone
from host.predict import predict
from host.runtime import HOST_BACKENDS, Runtime

HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 7860
HARNESS_DIR = "harness"
SUMMARY_FILE = "summary.json"
# Gradio reads these when it is imported: no usage statistics, no version check, no Hugging Face hub calls.
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
# How often the main thread wakes while the server threads serve (only bounds how fast Ctrl+C is seen).
IDLE_POLL_S = 0.5
NO_REPORT = "No harness report yet: `make harness PORT=…` writes `build/harness/summary.json` and `report.md`."


def backend_names(device_port: str | None) -> list[str]:
    """The backends the page runs: the host ones, plus the device when a port is given."""
    return [*HOST_BACKENDS, *(["device"] if device_port else [])]


def analyse(rt: Runtime, wav: Path, device_port: str | None) -> tuple[np.ndarray, dict[str, np.ndarray], bool]:
    """Raw MFCCs of ``wav`` (frames, coeffs), each backend's probabilities (num_labels,) by backend name, and whether
    the front end hears a tone (every backend's answer is then "not a word", as the board's).

    Raises
    ------
    PipelineError
        The clip is not usable audio (named by its file name), or a backend failed.
    """
    try:
        x_raw = rt.features(wav)
    except PipelineError as e:
        # Uploads sit in a temporary folder: name the file as the user knows it.
        raise PipelineError(str(e).replace(str(wav), wav.name)) from None
    probs = {name: predict(rt, x_raw, name, device_port) for name in backend_names(device_port)}
    return x_raw, probs, file_is_tone(wav, rt.params)


def summary_markdown(rt: Runtime, probs: dict[str, np.ndarray], tone: bool) -> str:
    """One row per backend: its answer (the word, "not a word" or "low confidence"), top label and score."""
    lines = ["| backend | answer | top label | score |", "| --- | --- | --- | --- |"]
    for name, p in probs.items():
        found = answers(rt, name, p[None], [tone])[0]
        lines.append(f"| {name} | {found} | {found.label} | {found.probability:.3f} |")
    return "\n".join(lines)


def scores_markdown(labels: list[str], probs: dict[str, np.ndarray]) -> str:
    """Every class's probability, one column per backend."""
    names = list(probs)
    lines = ["| class | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    lines += [f"| {label} | " + " | ".join(f"{probs[n][i]:.3f}" for n in names) + " |"
              for i, label in enumerate(labels)]
    return "\n".join(lines)


def mfcc_figure(x_norm: np.ndarray, hop_ms: float) -> Any:
    """The float model's input (normalized MFCCs, frames x coefficients) as an image over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.8))
    im = ax.imshow(x_norm.T, aspect="auto", origin="lower", cmap="magma",
                   extent=(0, x_norm.shape[0] * hop_ms / 1000, -0.5, x_norm.shape[1] - 0.5))
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MFCC")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    plt.close(fig)  # Gradio renders the figure object; pyplot must not keep it
    return fig


def harness_report(build: Path) -> tuple[str, list[str]]:
    """The latest harness report (markdown without its image links) and its plots, or a note that there is none."""
    from host.report import CONFUSION_PNG, REPORT_FILE, SCORES_PNG  # matplotlib and scikit-learn: not at start-up

    folder = build / HARNESS_DIR
    if not (folder / SUMMARY_FILE).is_file():
        return NO_REPORT, []
    report = folder / REPORT_FILE
    if report.is_file():
        text = "\n".join(line for line in report.read_text().splitlines() if not line.startswith("!["))
    else:
        text = "```json\n" + json.dumps(json.loads((folder / SUMMARY_FILE).read_text()), indent=1) + "\n```"
    plots = [str(folder / png) for png in (CONFUSION_PNG, SCORES_PNG) if (folder / png).is_file()]
    return text, plots


def build_page(rt: Runtime, device_port: str | None) -> Any:
    """The Gradio page of ``rt``'s model (``device_port``: also run the device backend)."""
    import gradio as gr

    hop_ms = rt.params.hop_ms

    def on_audio(path: str | None) -> tuple[str, str, str, Any, str]:
        if not path:
            return "", "", "", None, ""
        try:
            x_raw, probs, tone = analyse(rt, Path(path), device_port)
        except PipelineError as e:
            return "", f"error: {e}", "", None, ""
        shown = str(answers(rt, "tflm", probs["tflm"][None], [tone])[0])  # what the board would answer
        return (shown, "", summary_markdown(rt, probs, tone), mfcc_figure(rt.normalized(x_raw), hop_ms),
                scores_markdown(rt.labels, probs))

    def on_load() -> tuple[str, list[str]]:
        return harness_report(rt.build)

    meta = rt.meta
    with gr.Blocks(title="tinyml-bilstm demo", analytics_enabled=False) as page:
        gr.Markdown(f"## tinyml-bilstm: {len(rt.labels)} classes ({', '.join(rt.labels)})\n"
                    f"Model `{meta['model_hash']}` in `{rt.build}`; backends: "
                    f"{', '.join(backend_names(device_port))}" + (f" (device on `{device_port}`)" if device_port
                                                                   else "") + ".")
        with gr.Row():
            with gr.Column():
                audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Clip (WAV or microphone)",
                                 elem_id="clip")
                label = gr.Textbox(label="Answer (tflm: what the board computes): the word, \"not a word\" or "
                                         "\"low confidence\"", interactive=False, elem_id="label")
                message = gr.Markdown(elem_id="message")
                summary = gr.Markdown(elem_id="summary")
            with gr.Column():
                mfcc = gr.Plot(label="MFCCs, normalized (the float model's input)", elem_id="mfcc")
                scores = gr.Markdown(elem_id="scores")
        with gr.Accordion("Latest harness report", open=False):
            report = gr.Markdown(elem_id="report")
            plots = gr.Gallery(label="Harness plots", columns=2, object_fit="contain", height="auto",
                               elem_id="report-plots")
        # One clip at a time: the backends (interpreters, a serial link) are not shared between threads.
        audio.change(on_audio, inputs=audio, outputs=[label, message, summary, mfcc, scores], concurrency_limit=1)
        page.load(on_load, outputs=[report, plots])
    return page


def check_port(http_port: int) -> None:
    """Refuse in one line a port the page cannot be served on (in use, privileged), before any model is loaded."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server binds it
        try:
            s.bind((HOST, http_port))
        except (OSError, OverflowError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise PipelineError(f"{HOST}:{http_port}: {reason}; choose another port with DEMO_PORT= "
                                "(python -m demo --http-port)") from None


def serve(build: Path, http_port: int, device_port: str | None) -> None:
    """Open the model of ``build`` (one-line error without one), start its backends and serve the page on
    127.0.0.1:``http_port`` until interrupted."""
    os.environ.update(OFFLINE_ENV)
    check_port(http_port)
    with Runtime.open(build) as rt:
        from data.quiet import import_quietly

        import_quietly()  # after the model check, so that a missing model is said at once, not after TensorFlow
        for name in backend_names(device_port):
            rt.backend(name, device_port)  # load every model (and reach the device) before the first request
        page = build_page(rt, device_port)
        harness_dir = str((build / HARNESS_DIR).resolve())
        try:
            page.launch(server_name=HOST, server_port=http_port, quiet=True, ssr_mode=False,
                        allowed_paths=[harness_dir], prevent_thread_lock=True)
        except OSError as e:
            raise PipelineError(f"{HOST}:{http_port}: cannot serve the demo ({e})") from None
        # `kill` stops the page as Ctrl+C does: through the finally blocks, which close the device link and stop a
        # virtual device or QEMU (a background job may even have SIGINT ignored).
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        print(f"demo: http://{HOST}:{http_port} (Ctrl+C to stop)", flush=True)
        try:
            while True:  # the server runs in its own threads; Ctrl+C ends this one (run_main: "interrupted")
                time.sleep(IDLE_POLL_S)
        finally:
            with contextlib.redirect_stdout(io.StringIO()):  # Gradio's "Closing server" line
                page.close()
