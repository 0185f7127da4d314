"""The report of a study: per real source and per held-out speaker, mean and worst fold over seeds, the most frequent
errors, sizes, agreement and the targets (``build/cv.json`` and ``cv.md``, ``cv_float.*`` for a float-only screening
run), and the learning curve (``build/cv_curve.json`` and ``cv_curve.md``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from experiments.cv.folds import KIND_FSDD, KIND_SPEECH_COMMANDS


def stats(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "min": float(np.min(values)),
            "max": float(np.max(values))}


def alone(folds: list[dict]) -> list[str]:
    """The speakers that some fold holds out alone (a small source's, or ``--speakers``): reported one by one."""
    return sorted({f["holdout"][0] for f in folds if len(f["holdout"]) == 1})


def top_confusions(folds: list[dict], backend: str, labels: list[str], key: str = "per_speaker",
                   k: int = 3) -> dict[str, list[list]]:
    """The ``k`` most frequent errors of every speaker (``key="per_speaker"``) or source (``"per_source"``) of the
    folds' ``<backend>_<key>``, summed over seeds.

    Returns
    -------
    dict
        Name -> ``[[true label, predicted label, clips], ...]``, most frequent first; none without errors: ``[]``.
    """
    out = {}
    field = f"{backend}_{key}"
    for name in sorted({n for f in folds for n in f[field]}):
        c = np.sum([f[field][name]["confusion"] for f in folds if name in f[field]], axis=0)
        np.fill_diagonal(c, 0)
        order = np.argsort(-c, axis=None, kind="stable")[:k]
        out[name] = [[labels[i], labels[j], int(c[i, j])] for i, j in zip(*np.unravel_index(order, c.shape))
                     if c[i, j] > 0]
    return out


def summarize(folds: list[dict], synth_only: list[dict], sources: list[dict], limits: dict[str, Any],
              backend: str, labels: list[str]) -> dict[str, Any]:
    """Per real source: accuracy over every (seed, fold) that held out some of its speakers (mean, worst), the
    mean per seed, and its clips pooled over the folds of a seed; per speaker held out alone, the same over seeds;
    the most frequent errors; the targets by source kind; sizes and agreement.

    Parameters
    ----------
    folds : list of dict
        From :func:`experiments.cv.runs.run_fold`, with ``<backend>_per_source`` and ``<backend>_per_speaker``.
    synth_only : list of dict
        The synthetic-only model per seed (may be empty), tested on every real clip.
    sources : list of dict
        From :func:`experiments.cv.folds.build_pool`.
    limits : dict
        ``config.toml [cv]``.
    backend : str
        ``tflm`` or ``float``.
    """
    key = f"{backend}_per_source"
    per_source: dict[str, Any] = {}
    for src in sources:
        name = src["name"]
        hits = [f for f in folds if name in f[key]]
        if not hits:
            continue
        seeds = sorted({f["seed"] for f in hits})
        pooled = [sum(f[key][name]["accuracy"] * f[key][name]["clips"] for f in hits if f["seed"] == s)
                  / sum(f[key][name]["clips"] for f in hits if f["seed"] == s) for s in seeds]
        per_source[name] = {"kind": src["kind"], "speakers": len(src["speakers"]),
                            "folds": stats([f[key][name]["accuracy"] for f in hits]),
                            "mean_per_seed": stats([float(np.mean([f[key][name]["accuracy"] for f in hits
                                                                    if f["seed"] == s])) for s in seeds]),
                            "pooled_clips_per_seed": stats(pooled),
                            "synthetic_only": (stats([f[key][name]["accuracy"] for f in synth_only])
                                               if synth_only else None)}
    speakers = alone(folds)
    s: dict[str, Any] = {
        "folds": len(folds), "backend": backend, backend: stats([f[backend]["accuracy"] for f in folds]),
        "per_source": per_source,
        "per_speaker": {sp: stats([f[f"{backend}_per_speaker"][sp]["accuracy"] for f in folds
                                   if f["holdout"] == [sp]]) for sp in speakers},
        f"{backend}_top_confusions": {sp: top for sp, top in top_confusions(folds, backend, labels).items()
                                      if sp in speakers},
        f"{backend}_top_confusions_per_source": top_confusions(folds, backend, labels, "per_source")}
    checks: dict[str, bool] = {}
    for name, st in per_source.items():
        if st["kind"] == KIND_FSDD:
            checks[f"{name}: mean accuracy"] = st["folds"]["mean"] >= limits["min_mean_accuracy"]
            checks[f"{name}: worst fold"] = st["folds"]["min"] >= limits["min_fold_accuracy"]
        elif st["kind"] == KIND_SPEECH_COMMANDS:
            checks[f"{name}: mean accuracy"] = st["folds"]["mean"] >= limits["min_speech_commands_accuracy"]
    if backend == "tflm":
        s["model_bytes"] = max(f["model_bytes"] for f in folds)
        s["arena_bytes"] = max(f["arena_bytes"] for f in folds)
        s["agreement_float_tflm"] = stats([f["agreement"]["float_tflm"] for f in folds])
        s["accuracy_drop_float_tflm"] = stats([f["float"]["accuracy"] - f["tflm"]["accuracy"] for f in folds])
        checks.update({"model_bytes": s["model_bytes"] <= limits["max_model_bytes"],
                       "arena_bytes": s["arena_bytes"] <= limits["max_arena_bytes"],
                       "agreement_float_tflm": s["agreement_float_tflm"]["mean"] >= limits["min_agreement"],
                       "accuracy_drop_float_tflm": s["accuracy_drop_float_tflm"]["mean"]
                       <= limits["max_accuracy_drop"]})
    s["checks"] = checks
    s["passed"] = all(checks.values())
    return s


def _overrides(report: dict[str, Any]) -> str:
    return ", ".join(report["overrides"]) or "none"


def _errors(title: str, confusions: dict[str, list[list]]) -> list[str]:
    return ["", f"| {title} | true → predicted (clips) |", "| --- | --- |"] + [
        f"| {name} | {', '.join(f'{t} → {p} ({n})' for t, p, n in top) or 'none'} |"
        for name, top in confusions.items()]


def write_markdown(path: Any, report: dict[str, Any]) -> None:
    """``build/cv.md`` (or ``cv_float.md``): sources, folds, the per-source and per-speaker summaries, the most
    frequent errors, sizes and the targets."""
    s, b = report["summary"], report["summary"]["backend"]
    name_b = "int8 on TFLM" if b == "tflm" else "float"
    names = [src["name"] for src in report["sources"]]
    lines = [f"# Speaker-independent folds over real speech ({name_b})", "",
             f"Train: {report['protocol']}. Seeds {report['seeds']}; {report['folds_per_seed']} folds per seed; "
             f"overrides of config.toml: {_overrides(report)}; smoke: {report['smoke']}."
             + ("" if report["complete"] else f" **Partial: {len(report['folds'])} folds and "
                f"{len(report.get('synthetic_only', []))} synthetic-only models finished so far.**"), "",
             "| source | kind | speakers | clips | layout |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {src['name']} | {src['kind']} | {len(src['speakers'])} | {src['clips']} | {src['layout']} |"
              for src in report["sources"]]
    lines += ["", "| seed | fold | held-out speakers | real training speakers | "
              + " | ".join(f"{n} ({b})" for n in names) + " | epochs |",
              "| --- | --- | --- | --- | " + " | ".join("---" for _ in names) + " | --- |"]
    for f in report["folds"]:
        cells = [f"{f[f'{b}_per_source'][n]['accuracy']:.4f} ({f[f'{b}_per_source'][n]['clips']})"
                 if n in f[f"{b}_per_source"] else "-" for n in names]
        held = f["holdout"][0] if len(f["holdout"]) == 1 else len(f["holdout"])
        lines.append(f"| {f['seed']} | {f['fold']} | {held} | {len(f['train_speakers'])} | " + " | ".join(cells)
                     + f" | {f['epochs']} |")
    lines += ["", "| source (clips in parentheses above) | kind | mean over folds | worst fold | mean per seed (std) | "
              "all held-out clips per seed | synthetic-only model |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for n, st in s["per_source"].items():
        synth = f"{st['synthetic_only']['mean']:.4f}" if st["synthetic_only"] else "-"
        lines.append(f"| {n} | {st['kind']} | {st['folds']['mean']:.4f} | {st['folds']['min']:.4f} | "
                     f"{st['mean_per_seed']['mean']:.4f} ({st['mean_per_seed']['std']:.4f}) | "
                     f"{st['pooled_clips_per_seed']['mean']:.4f} | {synth} |")
    if s["per_speaker"]:
        lines += ["", f"| seed | held-out speaker | clips | {name_b} |", "| --- | --- | --- | --- |"]
        lines += [f"| {f['seed']} | {f['holdout'][0]} | {f['n_clips']} | {f[b]['accuracy']:.4f} |"
                  for f in report["folds"] if len(f["holdout"]) == 1]
        lines += ["", "| speaker held out alone | mean over seeds | std | worst |", "| --- | --- | --- | --- |"]
        lines += [f"| {sp} | {st['mean']:.4f} | {st['std']:.4f} | {st['min']:.4f} |"
                  for sp, st in s["per_speaker"].items()]
    if b == "tflm":
        lines += ["", f"int8 model {s['model_bytes']} bytes (limit {report['limits']['max_model_bytes']}), measured "
                  f"arena {s['arena_bytes']} bytes (limit {report['limits']['max_arena_bytes']}); top-1 agreement "
                  f"float/TFLM {s['agreement_float_tflm']['mean']:.4f} (worst fold "
                  f"{s['agreement_float_tflm']['min']:.4f}); accuracy drop float - TFLM "
                  f"{s['accuracy_drop_float_tflm']['mean']:.4f} (largest {s['accuracy_drop_float_tflm']['max']:.4f})."]
    lines += ["", f"## Most frequent errors ({name_b}, clips summed over seeds)"]
    lines += _errors("source", s[f"{b}_top_confusions_per_source"])
    if s[f"{b}_top_confusions"]:
        lines += _errors("speaker held out alone", s[f"{b}_top_confusions"])
    lines += ["", "## Targets", "", "| check | passed |", "| --- | --- |"]
    lines += [f"| {k} | {'yes' if v else 'NO'} |" for k, v in s["checks"].items()]
    path.write_text("\n".join(lines) + "\n")


def extrapolate(points: list[tuple[int, float]], target: float) -> dict[str, Any]:
    """How many real training voices ``target`` accuracy would take if the error kept falling at the measured rate.

    Parameters
    ----------
    points : list of (int, float)
        Number of real training voices and the mean accuracy there.

    Returns
    -------
    dict
        ``error_ratio``: the factor by which each added voice multiplies the error (a least-squares line through
        log(1 - accuracy)); ``voices_for_target``: where that line reaches ``1 - target`` (``None`` when the error
        does not fall). Both ``None`` with fewer than two points or an error of 0: an extrapolation, not a measurement.
    """
    errors = np.array([1.0 - acc for _, acc in points])
    out: dict[str, Any] = {"error_ratio": None, "voices_for_target": None}
    if len(points) >= 2 and np.all(errors > 0):
        slope, offset = np.polyfit([v for v, _ in points], np.log(errors), 1)
        out["error_ratio"] = float(np.exp(slope))
        if slope < 0:
            out["voices_for_target"] = int(np.ceil((np.log(1.0 - target) - offset) / slope))
    return out


def _point_label(point: dict[str, Any]) -> str:
    """A learning-curve point's first column: its number of voices, or "all (99-110)" for every fold's own."""
    if point["point"] != "all":
        return str(point["real_speakers"])
    sizes = point["real_speakers"] if isinstance(point["real_speakers"], list) else [point["real_speakers"]]
    return f"all ({sizes[0]}-{sizes[-1]})" if len(sizes) > 1 else f"all ({sizes[0]})"


def summarize_curve(entries: list[dict], sources: list[dict], limits: dict[str, Any]) -> dict[str, Any]:
    """Accuracy per source against the number of real training voices: one point per subset size and one for
    "all" (each fold's own number), the mean over folds and seeds; per source with a target, the extrapolation of
    :func:`extrapolate` through the points of a fixed number of voices."""
    names = [src["name"] for src in sources]
    points = []
    for point in sorted({e["point"] for e in entries}, key=lambda v: (v == "all", v)):
        at = [e for e in entries if e["point"] == point]
        sizes = sorted({e["real_speakers"] for e in at})
        points.append({"point": point, "real_speakers": sizes[0] if len(sizes) == 1 else sizes, "tests": len(at),
                       "per_source": {n: float(np.mean([e["per_source"][n] for e in at if n in e["per_source"]]))
                                      for n in names if any(n in e["per_source"] for e in at)}})
    targets = {KIND_FSDD: limits["min_mean_accuracy"], KIND_SPEECH_COMMANDS: limits["min_speech_commands_accuracy"]}
    trend = {src["name"]: extrapolate([(p["point"], p["per_source"][src["name"]]) for p in points
                                       if p["point"] != "all" and src["name"] in p["per_source"]],
                                      targets[src["kind"]])
             for src in sources if src["kind"] in targets}
    return {"points": points, "extrapolation": trend}


def write_curve_markdown(path: Any, report: dict[str, Any]) -> None:
    """``build/cv_curve.md``: accuracy per source against the number of real training voices."""
    names = [src["name"] for src in report["sources"]]
    folds_done = sorted({(e["seed"], e["fold"]) for e in report["entries"]})
    lines = ["# Learning curve over the number of real training voices", "",
             f"Each fold retrained on the synthetic set plus the first k of its real training speakers (a fixed "
             f"pseudo-random order), accuracy of the {report['backend']} model on the fold's held-out speakers per "
             f"source, mean over folds and seeds {report['seeds']}; overrides of config.toml: {_overrides(report)}."
             + ("" if report["complete"] else f" **Partial: {len(report['entries'])} models of {len(folds_done)} "
                "(seed, fold) pairs finished so far.**"), "",
             "| real training voices (per fold) | " + " | ".join(names) + " | models |",
             "| --- | " + " | ".join("---" for _ in names) + " | --- |"]
    lines += [f"| {_point_label(p)} | " + " | ".join(f"{p['per_source'][n]:.4f}" if n in p["per_source"] else "-"
                                                      for n in names) + f" | {p['tests']} |" for p in report["points"]]
    for name, t in report["extrapolation"].items():
        if t["error_ratio"] is not None:
            lines += ["", f"{name}: each added real voice multiplied the error by {t['error_ratio']:.3f} on average "
                      "(a line through log(1 - mean)); at that rate its target would take "
                      + (f"{t['voices_for_target']} real training voices" if t["voices_for_target"] is not None
                         else "more voices than any rate measured here") + ": an extrapolation, not a measurement."]
    path.write_text("\n".join(lines) + "\n")
