"""Host harness: stream clips to a device over serial, compare its scores with the host's, write a report.

``python -m host.harness --port PORT [--data DIR] [-n N] [--resume]`` (``make harness``). ``PORT`` is a device path,
any pyserial URL (``socket://host:port``, ``rfc2217://…``), ``virtual`` (a virtual device on a pty running the
local int8 model on TFLM), ``emu`` or ``emu:<kernels>-<opt>`` (the firmware image of ``make firmware-emu`` on QEMU,
``host/emulator.py``) or empty (the one connected Arduino, found by USB vendor id). ``--input audio`` sends each
clip's 16-bit audio instead of the host's features: the device computes the features itself (``HEAR``), and the
summary compares them with the host's (``frontend``).

Results are appended to ``build/harness/results.jsonl`` one line per clip as they arrive; ``--resume`` skips the
clips already there, so an interrupted run loses nothing. Then ``summary.json`` and ``report.md`` are written. They
always describe the results beside them: a run that changes ``results.jsonl`` removes the earlier ones first, and a
run that stops early (Ctrl-C, a device failure) writes them for the clips that finished, marked ``partial``, with the
``RESUME=1`` hint.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from data.artifacts import write_text_atomic
from data.config import PipelineError, run_main
from host.answers import Answer, answer_counts, answers, counts_text
from host.dut import Dut, DutError, Timeouts
from host.runtime import Runtime
from host.ports import PortError, open_port
from host.serial_device import LinkError
from host.protocol import InferResult

INPUTS = ("features", "audio")
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"


class HarnessError(PipelineError):
    """An expected failure of the harness, printed as one line (``error: <port/file>: <reason>``)."""


class StreamStopped(HarnessError):
    """Streaming stopped before every clip ran (Ctrl-C or a device failure): the results so far are on disk."""


@dataclass
class ClipSet:
    """The clips of one run.

    Attributes
    ----------
    ids : list of str
        Clip ids (paths), unique.
    x_raw : np.ndarray, shape (n, frames, coeffs), float32
        Raw MFCCs (not normalized).
    y : np.ndarray, shape (n,), int64
        Label indices into the model's labels; -1 when a folder name is not a label of the model.
    source : str
        ``test split`` or the data folder, recorded so that ``--resume`` never mixes two sets.
    """

    ids: list[str]
    x_raw: np.ndarray
    y: np.ndarray
    source: str
    recordings: np.ndarray | None = None  # windows of long recordings (data/windows.py): each row's recording


def load_clips(rt: Runtime, data_dir: Path | None, n: int | None) -> ClipSet:
    """The test split of the model's build folder or the WAV files of ``data_dir/<label>/*.wav`` (features with
    the model's front end), the first ``n`` of them."""
    from data.datasets import load_folder

    if data_dir is None:
        split = rt.test_split()
        count = len(split["y"]) if n is None else n
        return ClipSet([str(i) for i in split["ids"][:count]], split["x"][:count], split["y"][:count], "test split",
                       split["recordings"][:count] if "recordings" in split else None)
    clips = load_folder(data_dir)[:n]
    x = np.stack([rt.features(c.path) for c in tqdm(clips, desc="features", unit="clip", disable=None)])
    y = np.array([rt.labels.index(c.label) if c.label in rt.labels else -1 for c in clips], np.int64)
    return ClipSet([str(c.path) for c in clips], x, y, str(data_dir))


def read_results(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Header and clip records of a results file; a partial last line (a killed run) is cut off the file.

    Returns
    -------
    header : dict or None
        The run's first line (model hash, clip source), ``None`` for a missing or empty file.
    records : list of dict
        One per finished clip, in file order.
    """
    if not path.exists():
        return None, []
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        with open(path, "r+b") as f:
            f.truncate(len(complete))  # the interrupted line is redone, never half-counted
    try:
        lines = [json.loads(line) for line in complete.splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise HarnessError(f"{path}: not a results file ({e}); delete it or run without RESUME") from None
    if not lines:
        return None, []
    return lines[0].get("run"), [line["clip"] for line in lines[1:]]


def result_fields(result: InferResult) -> dict[str, Any]:
    """The record fields of an INFER/HEAR reply (``value`` from a minor-version-1 device: the top score
    dequantized on the device)."""
    fields = {"scores": list(result.scores), "top": result.top, "us": result.us, "cycles": result.cycles}
    if result.value is not None:
        fields["value"] = result.value
    if result.answer is not None:
        fields["answer"] = result.answer
    return fields


def run_features(dut: Dut, clip: np.ndarray) -> tuple[dict[str, Any], int]:
    """One clip of int8 features (frames, coeffs) through LOAD/INFER: its record fields and the tries it took."""
    result, attempts = dut.infer(clip.tobytes())
    return result_fields(result), attempts


def run_audio(dut: Dut, audio: np.ndarray) -> tuple[dict[str, Any], int]:
    """One clip of 16-bit audio through AUDIO/HEAR/FEATURES: its record fields (with the device's features as
    hex and the front end's latency) and the tries it took."""
    result, features, attempts = dut.hear(audio)
    return result_fields(result) | {"fe_us": result.fe_us, "fe_cycles": result.fe_cycles,
                                    "features": features.hex()}, attempts


def stream_clips(dut: Dut, clips: ClipSet, inputs: Any, results: Path, done: set[str], port: str,
                 send: Any = run_features) -> int:
    """Run every clip not in ``done`` on the device, appending one JSON line per clip as it arrives.

    Parameters
    ----------
    inputs : sequence
        What ``send`` sends of each clip of ``clips``: int8 features (frames, coeffs) or int16 audio.
    send : callable
        :func:`run_features` or :func:`run_audio`.

    Returns
    -------
    int
        Number of clips run now.
    """
    todo = [i for i, cid in enumerate(clips.ids) if cid not in done]
    count = 0
    with open(results, "a") as f:
        try:
            for i in tqdm(todo, desc="device", unit="clip", disable=None):
                start = time.perf_counter()
                try:
                    fields, attempts = send(dut, inputs[i])
                except (DutError, LinkError) as e:
                    raise StreamStopped(f"{port}: clip {clips.ids[i]}: {e}; {len(done) + count} of "
                                        f"{len(clips.ids)} results kept in {results}") from None
                record = {"id": clips.ids[i], "label": int(clips.y[i]), **fields, "attempts": attempts,
                          "wall_ms": round(1000 * (time.perf_counter() - start), 3)}
                f.write(json.dumps({"clip": record}) + "\n")
                f.flush()  # one line per clip on disk at once: an interrupted run loses nothing
                count += 1
        except KeyboardInterrupt:
            raise StreamStopped(f"{port}: interrupted; {len(done) + count} of {len(clips.ids)} results kept in "
                                f"{results}") from None
    return len(todo)


def run(port: str | None, build_dir: Path = Path("build"), out_dir: Path | None = None, data_dir: Path | None = None,
        n: int | None = None, resume: bool = False, timeouts: Timeouts = Timeouts(),
        report: bool = True, input_kind: str = "features") -> dict[str, Any]:
    """Run the harness end to end and write ``results.jsonl``, ``summary.json`` (and ``report.md``).

    Parameters
    ----------
    port : str or None
        Device path, pyserial URL, ``"virtual"``, or ``None`` for auto-detection.
    build_dir : Path
        The local build (``model_int8.tflite``, ``model_meta.json``, ``features/test.npz``, ``model_float.h5``).
    out_dir : Path or None
        Where results go; ``build_dir / "harness"`` by default.
    data_dir : Path or None
        ``<label>/*.wav`` folder to run instead of the test split.
    n : int or None
        Only the first ``n`` clips.
    resume : bool
        Keep the clips already in ``results.jsonl`` and run only the others.
    timeouts : Timeouts
        Timeouts and retry counts of the device session.
    report : bool
        Also write ``report.md`` and its figures.
    input_kind : str
        ``features`` (the host's int8 features) or ``audio`` (each clip's 16-bit audio, features computed by the
        device's front end; :func:`host.frontend.wav_audio`).

    Returns
    -------
    dict
        The summary (also written to ``summary.json``).

    Raises
    ------
    HarnessError
        Missing build, model mismatch, or a device failure after retries (finished results are kept).
    """
    out_dir = out_dir or build_dir / "harness"
    rt = Runtime.open(build_dir)
    meta = rt.meta
    local_model = meta["model_hash"]
    clips = load_clips(rt, data_dir, n)
    if len(set(clips.ids)) != len(clips.ids):
        raise HarnessError(f"{clips.source}: clip ids are not unique")
    if input_kind not in INPUTS:
        raise HarnessError(f"input must be one of {', '.join(INPUTS)}, not {input_kind!r}")
    if input_kind == "audio":
        from host.frontend import wav_audio

        inputs: Any = [wav_audio(Path(cid), rt.params) for cid in tqdm(clips.ids, desc="audio", unit="clip",
                                                                         disable=None)]
        send = run_audio
    else:
        inputs, send = rt.device_input(clips.x_raw), run_features

    results = out_dir / RESULTS_FILE
    header = {"model": local_model, "source": clips.source, "input": input_kind}
    old_header, records = read_results(results) if resume else (None, [])
    if old_header is not None and old_header != header:
        raise HarnessError(f"{results}: holds a run of {old_header}, not {header}; run without RESUME=1")
    known = set(clips.ids)
    records = [r for r in records if r["id"] in known]  # resuming with a smaller N keeps only the selected clips
    done = {r["id"] for r in records}

    try:
        with open_port(port, build_dir) as (link, name):
            dut = Dut(link, expected_model=local_model, timeouts=timeouts)
            try:
                info = dut.handshake()
            except (DutError, LinkError) as e:
                raise HarnessError(f"{name}: {e}") from None
            if list(info.labels) != list(meta["labels"]):
                raise HarnessError(f"{name}: device labels {info.labels} differ from {meta['labels']}")
            if input_kind == "audio" and info.rate != rt.params.sample_rate:
                raise HarnessError(f"{name}: device takes audio at {info.rate} Hz, the model at "
                                   f"{rt.params.sample_rate} Hz (0: no audio, a protocol 1 firmware?)")
            if info.min_score is not None and info.min_score != meta["answer"]["min_word_score"]:
                raise HarnessError(f"{name}: device's word score {info.min_score} differs from the model's "
                                   f"{meta['answer']['min_word_score']} (model_meta.json answer)")
            # Only a device that answered the handshake may replace the results of an earlier run.
            if old_header is None:
                out_dir.mkdir(parents=True, exist_ok=True)
                write_text_atomic(results, json.dumps({"run": header}) + "\n")
            if len(done) < len(known):  # results.jsonl changes: an earlier summary would describe other results
                from host.report import REPORT_FILE

                for stale in (SUMMARY_FILE, REPORT_FILE):
                    (out_dir / stale).unlink(missing_ok=True)
            try:
                stream_clips(dut, clips, inputs, results, done, name, send)
            except StreamStopped as e:
                finished = _finished(results, known)
                if finished:
                    with contextlib.suppress(KeyboardInterrupt, HarnessError):  # a second Ctrl-C: results stay
                        write_summary(finished, clips, rt, _device(name, info, dut), out_dir, report, input_kind,
                                      inputs, partial=True)
                raise HarnessError(f"{e}" + (f"; a partial summary of them in {out_dir / SUMMARY_FILE}"
                                             if finished and (out_dir / SUMMARY_FILE).exists() else "")
                                   + "; continue with RESUME=1") from None
    except PortError as e:
        raise HarnessError(str(e)) from None
    except LinkError as e:
        raise HarnessError(f"{port or 'auto-detected port'}: {e}") from None
    records = _finished(results, known)
    try:
        return write_summary(records, clips, rt, _device(name, info, dut), out_dir, report, input_kind, inputs)
    except KeyboardInterrupt:
        raise HarnessError(f"interrupted while summarizing; all {len(records)} results are in {results}: RESUME=1 "
                           "writes the summary without running a clip again") from None


def _finished(results: Path, known: set[str]) -> list[dict[str, Any]]:
    """The clip records of ``results`` that belong to this run's clips."""
    return [r for r in read_results(results)[1] if r["id"] in known]


def _device(name: str, info: Any, dut: Dut) -> dict[str, Any]:
    return {"port": name, "fw": info.fw, "model": info.model, "arena": info.arena, "retries": dut.retries,
            "resets": dut.resets}


def write_summary(records: list[dict[str, Any]], clips: ClipSet, rt: Runtime, device: dict[str, Any],
                  out_dir: Path, report: bool, input_kind: str, inputs: Any, partial: bool = False) -> dict[str, Any]:
    """``summary.json`` (and ``report.md``) of the finished ``records``; ``partial``: of a run that stopped early."""
    if input_kind == "audio":
        from host.frontend import DeviceFrontend, library_for

        index = {cid: i for i, cid in enumerate(clips.ids)}
        audio = [inputs[index[r["id"]]] for r in records]
        # The device's C++ on the host: its features and its tone check of every clip, computed once.
        binding_features, tones = device_frontend(DeviceFrontend(library_for(rt.build)), audio)
        summary = {**summarize(records, clips, rt, device, out_dir, report, partial, tones),
                   "input": "audio", **frontend_summary(records, audio, clips, rt, binding_features)}
    else:
        summary = {**summarize(records, clips, rt, device, out_dir, report, partial), "input": "features"}
    write_text_atomic(out_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return summary


def device_frontend(binding: Any, audio: list[np.ndarray]) -> tuple[list[np.ndarray], list[bool]]:
    """What the device's front end (``binding``, a :class:`host.frontend.DeviceFrontend`) computes from each clip of
    int16 ``audio``: its int8 features, and whether it hears a tone (its HEAR then answers not-a-word)."""
    features, tones = [], []
    for clip in audio:
        features.append(binding.features(clip))
        tones.append(binding.is_tone())
    return features, tones


def frontend_summary(records: list[dict[str, Any]], audio: list[np.ndarray], clips: ClipSet,
                     rt: Runtime, binding_features: list[np.ndarray]) -> dict[str, Any]:
    """How the device's features (computed from the audio it was sent) compare with the host's.

    Parameters
    ----------
    records : list of dict
        Audio-mode records (``features`` as hex, ``scores``, ``fe_us``, ``fe_cycles``).
    audio : list of np.ndarray
        The int16 audio each record's clip was sent as.
    binding_features : list of np.ndarray
        The features of the same C++ built for the host (:func:`device_frontend`) of each clip.

    Returns
    -------
    dict
        ``frontend``: ``identical_values`` and ``max_abs_diff`` against the host's features of the clips (the
        feature path, :func:`data.features.mfcc` of the recording), ``identical_clips``, ``same_audio``
        (the same against librosa on exactly the 16-bit audio the device got: the front end alone) and the front
        end's latency, ``host_binding_identical_clips`` (clips whose features equal those of the same C++ built
        for the host, :mod:`host.frontend`); ``model_on_device_features``: whether the device's scores equal the
        host TFLM's on the device's own features.
    """
    index = {cid: i for i, cid in enumerate(clips.ids)}
    rows = np.array([index[r["id"]] for r in records])
    shape = clips.x_raw.shape[1:]
    dev = np.stack([np.frombuffer(bytes.fromhex(r["features"]), np.int8).reshape(shape) for r in records])
    host = rt.device_input(clips.x_raw[rows])
    from data.features import mfcc

    same = rt.device_input(np.stack([mfcc(a.astype(np.float32) / 32768, rt.params) for a in audio]))

    def compare(reference: np.ndarray) -> dict[str, float]:
        diff = np.abs(dev.astype(np.int16) - reference.astype(np.int16))
        return {"identical_values": float(np.mean(diff == 0)), "max_abs_diff": int(diff.max()),
                "identical_clips": float(np.mean((diff == 0).all(axis=(1, 2))))}

    tflm = np.stack([rt.backend("tflm").runner.scores(x) for x in dev])
    scores = np.array([r["scores"] for r in records], np.int8)
    same_code = np.mean([np.array_equal(b, d) for b, d in zip(binding_features, dev)])
    return {"frontend": {**compare(host), "same_audio": compare(same),
                         "host_binding_identical_clips": float(same_code),
                         "latency": {"us": _stats([r["fe_us"] for r in records]),
                                     "cycles": _stats([r["fe_cycles"] for r in records])}},
            "model_on_device_features": {"identical": float(np.mean((scores == tflm).all(1)))}}


def _stats(values: list[int]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summarize(records: list[dict[str, Any]], clips: ClipSet, rt: Runtime, device: dict[str, Any], out_dir: Path,
              report: bool, partial: bool = False, tones: list[bool] | None = None) -> dict[str, Any]:
    """Compare device scores with the host's TFLM, LiteRT int8 and float models.

    Parameters
    ----------
    records : list of dict
        One per clip run on the device (``id``, ``label``, ``scores``, ``top``, ``us``, ``cycles``, ``wall_ms``).
    clips : ClipSet
        Every clip of the run; the rows of ``records`` are looked up by id.

    Returns
    -------
    dict
        Nested summary: ``device``, ``host_tflm``, ``host_int8``, ``host_float``, ``agreement``, ``identical``,
        ``latency``, ``throughput``.
    """
    if not records:
        raise HarnessError(f"{out_dir / RESULTS_FILE}: no results to summarize")
    index = {cid: i for i, cid in enumerate(clips.ids)}
    rows = np.array([index[r["id"]] for r in records])
    dev = np.array([r["scores"] for r in records], np.int8)  # (n, labels)
    y = clips.y[rows]
    tflm, int8, flt = (rt.scores(name, clips.x_raw[rows]) for name in ("tflm", "int8", "float"))
    # Ties go to the first index on the device; np.argmax does the same.
    top = {"device": dev.argmax(1), "host_tflm": tflm.argmax(1), "host_int8": int8.argmax(1),
           "host_float": flt.argmax(1)}
    regression = rt.meta.get("task") == "regression"
    # A regression target is no label index: no accuracy, no confusion matrix.
    labelled = np.zeros(len(y), bool) if regression else y >= 0

    def accuracy(pred: np.ndarray) -> float | None:
        return float(np.mean(pred[labelled] == y[labelled])) if labelled.any() else None

    wall_s = sum(r["wall_ms"] for r in records) / 1000
    summary = {
        "clips": len(records),
        **({"partial": f"{len(records)} of {len(clips.ids)} clips: the run stopped early; continue with RESUME=1"}
           if partial else {}),
        "source": clips.source,
        "device": {"accuracy": accuracy(top["device"]), **device},
        **{name: {"accuracy": accuracy(top[name])} for name in ("host_tflm", "host_int8", "host_float")},
        "agreement": {f"device_{name[5:]}": float(np.mean(top["device"] == top[name]))
                      for name in ("host_tflm", "host_int8", "host_float")},
        "identical": {"device_tflm": float(np.mean((dev == tflm).all(1))),
                      "device_int8": float(np.mean((dev == int8).all(1)))},
        "latency": {"us": _stats([r["us"] for r in records]), "cycles": _stats([r["cycles"] for r in records])},
        "throughput": {"clips_per_second": len(records) / wall_s if wall_s else None,
                       "attempts": sum(r["attempts"] for r in records)},
    }
    values = [r.get("value") for r in records]
    if all(v is not None for v in values):  # the device dequantizes its top score itself (protocol minor 1)
        host = rt.probabilities("tflm", tflm)[np.arange(len(rows)), top["device"]]
        summary["identical"]["device_value_host_tflm"] = float(np.mean(np.array(values, np.float32) == host))
    if not regression:
        summary["answers"] = answers_summary(records, rt, dev, tflm, tones)
    if regression:
        summary["regression"] = regression_summary(y, values, rt.probabilities("device", dev)[:, 0],
                                                   rt.probabilities("tflm", tflm)[:, 0], flt[:, 0])
    if clips.recordings is not None and labelled.all():
        summary["recording"] = recording_accuracy(clips.recordings[rows], y, {
            "device": rt.probabilities("device", dev), "host_tflm": rt.probabilities("tflm", tflm),
            "host_float": flt})
    if report:
        from host.report import write_report

        write_report(out_dir, summary, rt.labels, np.where(labelled, y, -1), top["device"],
                     rt.probabilities("device", dev), rt.probabilities("tflm", tflm), flt)
    return summary


def answers_summary(records: list[dict[str, Any]], rt: Runtime, dev: np.ndarray, tflm: np.ndarray,
                    tones: list[bool] | None = None) -> dict[str, Any]:
    """What the device answered (its ``answer=``; from a device before protocol 2.2, decided here from its scores),
    how many of each, and whether every answer is the host TFLM's (``tones``: the clips sent as audio that the
    device's front end hears as a tone, answered not-a-word)."""
    host = answers(rt, "tflm", rt.probabilities("tflm", tflm), tones)
    decided = answers(rt, "device", rt.probabilities("device", dev), tones)
    device = [r.get("answer") or a.kind for r, a in zip(records, decided)]
    return {"device": answer_counts([Answer(a.label, a.probability, kind) for a, kind in zip(decided, device)]),
            "host_tflm": answer_counts(host), "sent_by_device": all("answer" in r for r in records),
            "identical_device_tflm": float(np.mean([d == h.kind for d, h in zip(device, host)]))}


def regression_summary(y: np.ndarray, device_values: list[float | None], device_dequantized: np.ndarray,
                       tflm: np.ndarray, flt: np.ndarray) -> dict[str, Any]:
    """Regression results of a run: ``mse``, ``mae``, ``r2`` of the device (its own ``value=`` when it sends one,
    else its int8 output dequantized here), the host TFLM and the float model; and the device-vs-host error."""
    from train.metrics import regression_scores

    sent = all(v is not None for v in device_values)
    device = np.array(device_values, np.float64) if sent else device_dequantized.astype(np.float64)
    return {"device_value": "sent by the device" if sent else "dequantized on the host",
            "device": regression_scores(y, device), "host_tflm": regression_scores(y, tflm),
            "host_float": regression_scores(y, flt),
            "device_vs_host": {"max_abs_tflm": float(np.max(np.abs(device - tflm))),
                               "mae_float": float(np.mean(np.abs(device - flt))),
                               "max_abs_float": float(np.max(np.abs(device - flt)))}}


def recording_accuracy(recordings: np.ndarray, y: np.ndarray, probs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per-recording accuracy (mean of each recording's window probabilities) of every backend in ``probs``
    (name -> (n_windows, labels)), and the number of recordings."""
    from train.metrics import recording_means

    out: dict[str, Any] = {}
    for name, p in probs.items():
        first, means = recording_means(p, recordings)
        out[name] = {"accuracy": float(np.mean(means.argmax(axis=1) == y[first]))}
        out["recordings"] = int(len(first))
    return out


def print_summary(summary: dict[str, Any]) -> None:
    """The one-screen summary of a run on stdout."""
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    us, cps = summary["latency"]["us"], summary["throughput"]["clips_per_second"]
    print(f"{summary['clips']} clips on {summary['device']['port']} (model {summary['device']['model']}, "
          f"fw {summary['device']['fw']}, {summary['device']['retries']} retries, "
          f"{summary['device']['resets']} resets)")
    print(f"accuracy  device {pct(summary['device']['accuracy'])}  host TFLM {pct(summary['host_tflm']['accuracy'])}"
          f"  host int8 {pct(summary['host_int8']['accuracy'])}  host float {pct(summary['host_float']['accuracy'])}")
    print(f"agreement device/TFLM {pct(summary['agreement']['device_tflm'])}  "
          f"device/float {pct(summary['agreement']['device_float'])}  "
          f"identical device/TFLM {pct(summary['identical']['device_tflm'])}")
    if "answers" in summary:
        ans = summary["answers"]
        print(f"answers   device {counts_text(ans['device'])} (identical to host TFLM's "
              f"{pct(ans['identical_device_tflm'])})")
    if "regression" in summary:
        reg = summary["regression"]
        print("regression " + "  ".join(f"{k} MSE {reg[k]['mse']:.4g} MAE {reg[k]['mae']:.4g} R2 {reg[k]['r2']:.3f}"
                                        for k in ("device", "host_tflm", "host_float")))
        print(f"device vs host: largest |device - TFLM| {reg['device_vs_host']['max_abs_tflm']:.3g}, mean "
              f"|device - float| {reg['device_vs_host']['mae_float']:.3g}")
    if "recording" in summary:
        rec = summary["recording"]
        print(f"per recording ({rec['recordings']} recordings)  device {pct(rec['device']['accuracy'])}  "
              f"host TFLM {pct(rec['host_tflm']['accuracy'])}  host float {pct(rec['host_float']['accuracy'])}")
    print(f"latency   {us['min']:g} / {us['median']:g} / {us['max']:g} us (min/median/max)  "
          f"{'n/a' if cps is None else f'{cps:.1f}'} clips/s")
    if summary.get("input") == "audio":
        fe, fe_us = summary["frontend"], summary["frontend"]["latency"]["us"]
        print(f"front end features identical to the host's {pct(fe['identical_values'])} (max diff "
              f"{fe['max_abs_diff']}), on the same 16-bit audio {pct(fe['same_audio']['identical_values'])} (max diff "
              f"{fe['same_audio']['max_abs_diff']}); front end {fe_us['median']:g} us median")


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m host.harness``."""
    parser = argparse.ArgumentParser(prog="python -m host.harness", description=__doc__.splitlines()[0])
    parser.add_argument("--port", default="", help="device path, pyserial URL, 'virtual' or 'emu[:<config>]'; empty: auto-detect")
    parser.add_argument("--build", type=Path, default=Path("build"), help="build directory of the local model")
    parser.add_argument("--out", type=Path, help="output directory (default: <build>/harness)")
    parser.add_argument("--data", type=Path, help="folder of <label>/*.wav to run instead of the test split")
    parser.add_argument("-n", type=int, help="only the first N clips")
    parser.add_argument("--resume", action="store_true", help="keep finished results and run the rest")
    parser.add_argument("--no-report", action="store_true", help="skip report.md and its figures")
    parser.add_argument("--input", choices=INPUTS, default="features",
                        help="features: the host's int8 features; audio: the clips' audio, features on the device")
    args = parser.parse_args(argv)
    if args.n is not None and args.n < 1:
        parser.error("-n must be at least 1")

    def go() -> None:
        summary = run(args.port or None, args.build, args.out, args.data, args.n, args.resume,
                      report=not args.no_report, input_kind=args.input)
        print_summary(summary)
        out = args.out or args.build / "harness"
        print(f"wrote {out / SUMMARY_FILE}" + ("" if args.no_report else f" and {out / 'report.md'}"))

    run_main(go, tensorflow=True)


if __name__ == "__main__":
    main()
