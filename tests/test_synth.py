"""The synthetic dataset is a pure function of its request: same bytes in any process, on any run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Variants whose takes used to differ between runs: breath noise (f2, f3, f5), Klatt noise (klatt), libc rand()
# (benjamin, a `klatt 6` voice), plus a plain one (m3) that still carried flutter state from take to take.
VARIANTS = ["f2", "f3", "f5", "klatt", "benjamin", "m3"]
LABELS = ["one", "seven"]
# With this seed the 6 speakers drawn use every variant above (asserted).
SEED = 97

# Generates the set into argv[1]; with argv[2] it first generates another set there, so this process's espeak-ng has
# synthesized other takes before (as when a smaller or interrupted run preceded it in the same process).
SCRIPT = """
import sys
from pathlib import Path
import data.synth as synth
synth.VARIANTS = {variants!r}
if len(sys.argv) > 2:
    synth.generate(Path(sys.argv[2]), {labels!r}, 4, 1, {seed} + 1, n_flite=1)
synth.generate(Path(sys.argv[1]), {labels!r}, 6, 1, {seed}, n_flite=1)
""".format(variants=VARIANTS, labels=LABELS, seed=SEED)


def _generate(*dirs: Path) -> dict[str, bytes]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *map(str, dirs)], cwd=REPO, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {str(p.relative_to(dirs[0])): p.read_bytes() for p in sorted(dirs[0].rglob("*")) if p.is_file()}


def test_two_processes_synthesize_identical_bytes(tmp_path: Path) -> None:
    first = _generate(tmp_path / "a")
    second = _generate(tmp_path / "b", tmp_path / "other")
    speakers = json.loads(first["speakers.json"])
    # the set covers every variant that used to differ, and a Flite speaker
    assert {s["voice"].split("+")[-1] for s in speakers if s["engine"] == "espeak"} == set(VARIANTS)
    assert any(s["engine"] == "flite" for s in speakers)
    assert len([f for f in first if f.endswith(".wav")]) == len(speakers) * len(LABELS)
    assert first.keys() == second.keys()
    assert [f for f in first if first[f] != second[f]] == []
