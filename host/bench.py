"""Harness throughput against the virtual device (called by ``make bench``)."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from host.dut import Dut
from host.harness import ClipSet, open_port, read_results, stream_clips


def harness_throughput(n_clips: int, build_dir: Path | str = "build") -> dict[str, Any]:
    """Stream ``n_clips`` test clips (repeated as needed) through the harness loop to the virtual device.

    Measures what the harness does per clip (quantized input, ``LOAD`` chunks, ``INFER``, one JSON line on disk)
    against the virtual device running the int8 model on TFLM; the host-side comparison is not included.

    Parameters
    ----------
    n_clips : int
        Number of clips to stream.
    build_dir : Path or str
        Build directory with ``model_int8.tflite``, ``model_meta.json`` and ``features/test.npz``.

    Returns
    -------
    dict
        ``clips``, ``seconds`` (wall time of the streaming loop), ``clips_per_second``, ``device_us_median``
        (median latency the virtual device reports for one inference).
    """
    from data.datasets import load_split
    from quantize.model_io import INT8_FILE, load_meta, model_hash, quantize_input

    build_dir = Path(build_dir)
    meta = load_meta(build_dir)
    split = load_split(build_dir / "features" / "test.npz")
    rows = np.arange(n_clips) % len(split["y"])
    clips = ClipSet([f"{split['ids'][r]}#{k}" for k, r in enumerate(rows)], split["x"][rows], split["y"][rows],
                    "bench")
    x_int8 = quantize_input(clips.x_raw, meta)
    with tempfile.TemporaryDirectory() as tmp, open_port("virtual", build_dir) as (link, name):
        dut = Dut(link, expected_model=model_hash((build_dir / INT8_FILE).read_bytes()))
        dut.handshake()
        results = Path(tmp) / "results.jsonl"
        start = time.perf_counter()
        stream_clips(dut, clips, x_int8, results, set(), name)
        seconds = time.perf_counter() - start
        _, records = read_results(results)
    return {"clips": n_clips, "seconds": seconds, "clips_per_second": n_clips / seconds,
            "device_us_median": statistics.median(r["us"] for r in records)}
