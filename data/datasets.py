"""Dataset loaders (synthetic, folder, FSDD, AudioMNIST, Speech Commands v2), speaker-stable splits, feature cache."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import numpy as np

from data.config import PipelineError
from data.features import FeatureParams, check_audio_file, extract_file, unusable_entry

SPLITS = ("train", "val", "test")
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
# Speech Commands v2 keeps the background-noise recordings in a folder that is not a label.
SPEECH_COMMANDS_NOISE_DIR = "_background_noise_"
_FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)$")
# AudioMNIST: data/<speaker>/<digit>_<speaker>_<take>.wav, speakers numbered 01..60.
_AUDIOMNIST_NAME = re.compile(r"^(\d)_(\d+)_(\d+)$")


@dataclass(frozen=True)
class Clip:
    """One labelled recording."""

    path: Path
    label: str
    source: str  # speaker or synthetic voice: the unit that never crosses splits


def source_of(path: Path) -> str:
    """Speaker/source id from a file name.

    ``<speaker>_nohash_<n>.wav`` (Speech Commands), ``<digit>_<speaker>_<n>.wav`` (FSDD),
    ``<source>_<take>.wav`` (our synthetic set); any other file is its own source.
    """
    stem = path.stem
    if "_nohash_" in stem:
        return stem.split("_nohash_")[0]
    m = _FSDD_NAME.match(stem)
    if m:
        return m.group(2)
    if stem.startswith("synth-") and "_" in stem:
        return stem.rsplit("_", 1)[0]
    return stem


def split_of(source: str, val_percent: int, test_percent: int) -> str:
    """Stable split of a source: a hash of its id, so adding data never moves existing speakers."""
    bucket = int(hashlib.sha1(source.encode()).hexdigest(), 16) % 100
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + val_percent:
        return "val"
    return "train"


def _entries(folder: Path) -> list[Path]:
    """The entries of ``folder``, sorted; one line naming the folder when it cannot be listed."""
    try:
        return sorted(folder.iterdir())
    except OSError as e:
        raise PipelineError(f"{folder}: cannot list the folder ({e.strerror or e})") from None


def _not_a_label_folder(path: Path) -> PipelineError:
    """The error for an entry in a label folder's place that is not a folder (a broken link, a file)."""
    return PipelineError(f"{path}: {unusable_entry(path) or 'not a folder'} (expected a label folder)")


def load_folder(root: Path, labels: list[str] | None = None) -> list[Clip]:
    """Clips of a ``<root>/<label>/*.wav`` tree.

    Every entry named ``*.wav`` in a label folder is a clip, whatever it is: a folder, a broken link or an unreadable
    file is then refused (or skipped and listed with ``--skip-bad``) by :func:`extract_clips`, never dropped
    silently. Other names are not audio and are ignored. A broken link among the label folders stops the stage: it
    would change the label set.

    Parameters
    ----------
    root : Path
    labels : list of str, optional
        Only these label folders (all must exist and be non-empty); every sub-folder otherwise.
    """
    root = Path(root)
    if not root.is_dir():
        raise PipelineError(f"{root}: dataset folder does not exist")
    if labels is None:
        folders = []
        for entry in _entries(root):
            if entry.name.startswith((".", "_")):
                continue
            if entry.is_dir():
                folders.append(entry)
            elif entry.is_symlink() and not entry.exists():
                raise _not_a_label_folder(entry)
    else:
        for lab in labels:
            if not (root / lab).is_dir() and ((root / lab).is_symlink() or (root / lab).exists()):
                raise _not_a_label_folder(root / lab)
        missing = [lab for lab in labels if not (root / lab).is_dir()]
        if missing:
            raise PipelineError(f"{root}: missing label folders {missing}")
        folders = [root / lab for lab in labels]
    clips = []
    for folder in folders:
        wavs = [p for p in _entries(folder) if p.suffix.lower() == ".wav"]
        if not wavs:
            raise PipelineError(f"{folder}: empty class folder (no .wav files)")
        clips += [Clip(p, folder.name, source_of(p)) for p in wavs]
    if len({c.label for c in clips}) < 2:
        raise PipelineError(f"{root}: a dataset needs at least two classes, found {sorted({c.label for c in clips})}")
    return clips


def load_fsdd(root: Path) -> list[Clip]:
    """The Free Spoken Digit Dataset: ``<root>/recordings/{digit}_{speaker}_{n}.wav`` (or directly in ``root``).

    As in :func:`load_folder`, every entry with a recording's name is a clip, whatever it is."""
    root = Path(root)
    rec = root / "recordings" if (root / "recordings").is_dir() else root
    if rec is root:  # the release archive's layout (make data NAME=fsdd): free-spoken-digit-dataset-<tag>/recordings
        rec = _single_subfolder(root, "free-spoken-digit-dataset-*/recordings") or root
    if not rec.is_dir():
        raise PipelineError(f"{root}: FSDD folder does not exist")
    clips = []
    for p in _entries(rec):
        m = _FSDD_NAME.match(p.stem)
        if m and p.suffix.lower() == ".wav":
            clips.append(Clip(p, DIGITS[int(m.group(1))], m.group(2)))
    if not clips:
        raise PipelineError(f"{rec}: no FSDD recordings named {{digit}}_{{speaker}}_{{n}}.wav")
    return clips


def _single_subfolder(root: Path, pattern: str) -> Path | None:
    """The one folder under ``root`` matching ``pattern`` (a release archive's top folder), or ``None``."""
    found = [p for p in sorted(root.glob(pattern)) if p.is_dir()] if root.is_dir() else []
    if len(found) > 1:
        raise PipelineError(f"{root}: {len(found)} folders match {pattern} ({found[0].name}, {found[1].name}, ...); "
                            f"name one of them")
    return found[0] if found else None


def load_audiomnist(root: Path) -> list[Clip]:
    """AudioMNIST (60 speakers, 48 kHz): ``<root>/data/<speaker>/<digit>_<speaker>_<take>.wav``, also as unpacked
    from its GitHub archive (``<root>/AudioMNIST-<commit>/data/...``) or with ``root`` the ``data`` folder itself.

    Speakers are numbers, so their source ids get an ``audiomnist-`` prefix (never mixed up with another corpus'
    speaker). As in :func:`load_folder`, every entry with a recording's name is a clip, whatever it is."""
    root = Path(root)
    data = root / "data" if (root / "data").is_dir() else _single_subfolder(root, "AudioMNIST-*/data") or root
    if not data.is_dir():
        raise PipelineError(f"{root}: AudioMNIST folder does not exist")
    clips = []
    for folder in _entries(data):
        if folder.is_dir() and folder.name.isdigit():
            for p in _entries(folder):
                m = _AUDIOMNIST_NAME.match(p.stem)
                if m and p.suffix.lower() == ".wav":
                    clips.append(Clip(p, DIGITS[int(m.group(1))], f"audiomnist-{m.group(2)}"))
    if not clips:
        raise PipelineError(f"{data}: no AudioMNIST recordings named <speaker>/{{digit}}_{{speaker}}_{{take}}.wav")
    return clips


def load_speech_commands(root: Path, labels: list[str]) -> tuple[list[Clip], dict[Path, str]]:
    """Speech Commands v2 (``<root>/<word>/<speaker>_nohash_<n>.wav``) restricted to ``labels``.

    Returns
    -------
    clips : list of Clip
    official : dict
        Path -> split from ``validation_list.txt`` / ``testing_list.txt`` when present (the published split).
    """
    root = Path(root)
    clips = load_folder(root, labels)
    official: dict[Path, str] = {}
    for name, split in (("validation_list.txt", "val"), ("testing_list.txt", "test")):
        listing = root / name
        if listing.exists():
            for line in listing.read_text().split():
                official[root / line] = split
    if official:
        official.update({c.path: "train" for c in clips if c.path not in official})
    return clips, official


def assign_splits(clips: Iterable[Clip], val_percent: int, test_percent: int,
                  official: dict[Path, str] | None = None) -> dict[str, list[Clip]]:
    """Group clips into train/val/test by source hash (or a published split list)."""
    out: dict[str, list[Clip]] = {s: [] for s in SPLITS}
    for c in clips:
        split = official[c.path] if official else split_of(c.source, val_percent, test_percent)
        out[split].append(c)
    return out


def file_cache_key(path: Path, params: FeatureParams) -> str:
    """Cache key of features computed from the file at ``path``: a file rewritten in place (same name, new
    content, e.g. regenerated synthetic takes) gets a new key."""
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{params.digest()}"
    return hashlib.sha1(ident.encode()).hexdigest()


def _load_cached(path: Path, params: FeatureParams) -> np.ndarray | None:
    """A cached feature matrix, or ``None`` when absent, unreadable, of the wrong shape or not plain floats
    (never unpickled: such an entry is simply recomputed)."""
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return x if x.dtype == np.float32 and x.shape == params.shape else None


T = TypeVar("T")


def read_or_skip(path: Path, read: Callable[[], T], skip_bad: bool, skipped: list[str]) -> T | None:
    """``read()`` of one file; for a bad file ``None`` with ``"<file>: <reason>"`` appended to ``skipped`` when
    ``skip_bad``, else one PipelineError naming the file."""
    try:
        return read()
    except PipelineError as e:
        if not skip_bad:
            raise
        skipped.append(str(e))
    except OSError as e:
        reason = f"{path}: {e.strerror or e}"
        if not skip_bad:
            raise PipelineError(reason) from None
        skipped.append(reason)
    return None


def _clip_features(path: Path, params: FeatureParams, cache_dir: Path) -> np.ndarray:
    """MFCCs of one clip, from the cache or computed and cached at once."""
    check_audio_file(path)  # links, folders, permissions and header bounds, even for a cached clip
    cached = cache_dir / f"{file_cache_key(path, params)}.npy"
    x = _load_cached(cached, params)
    if x is None:
        x = extract_file(path, params)
        np.save(cached, x, allow_pickle=False)
    return x


def extract_clips(clips: list[Clip], params: FeatureParams, cache_dir: Path, skip_bad: bool,
                  desc: str = "features") -> tuple[np.ndarray, list[Clip], list[str]]:
    """MFCCs of many clips through a per-file cache (``.npy``, read with ``allow_pickle=False``).

    Every computed file is cached at once, so an error on a later file loses nothing.

    Returns
    -------
    x : np.ndarray, shape (n_ok, num_frames, num_mfcc), float32
    ok : list of Clip
        The clips in ``x``.
    skipped : list of str
        ``"<file>: <reason>"`` for each bad file (only with ``skip_bad``; otherwise the first one raises).
    """
    from tqdm import tqdm

    cache_dir.mkdir(parents=True, exist_ok=True)
    feats, ok, skipped = [], [], []
    for clip in tqdm(clips, desc=desc, unit="clip", mininterval=1.0):
        x = read_or_skip(clip.path, lambda: _clip_features(clip.path, params, cache_dir), skip_bad, skipped)
        if x is None:
            continue
        feats.append(x)
        ok.append(clip)
    x = np.stack(feats) if feats else np.zeros((0, *params.shape), np.float32)
    return x, ok, skipped


def save_split(path: Path, x: np.ndarray, clips: list[Clip], labels: list[str]) -> None:
    """Write one split as ``.npz`` (plain arrays only, so loading never needs pickle)."""
    index = {lab: i for i, lab in enumerate(labels)}
    np.savez(path, x=x.astype(np.float32), y=np.array([index[c.label] for c in clips], np.int64),
             ids=np.array([str(c.path) for c in clips], dtype=str),
             sources=np.array([c.source for c in clips], dtype=str), labels=np.array(labels, dtype=str))


def load_split(path: Path) -> dict[str, np.ndarray]:
    """Read a split written by :func:`save_split`: ``x`` (n, frames, coeffs), ``y`` (n,), ``ids``, ``sources``,
    ``labels``."""
    if not path.exists():
        raise PipelineError(f"{path}: missing; run `make train` first")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


# Layouts of a real-speech source folder (:func:`detect_layout`).
LAYOUT_FSDD = "fsdd"
LAYOUT_SPEECH_COMMANDS = "speech_commands"  # <word>/<speaker>_nohash_<n>.wav with the published split lists
LAYOUT_FOLDER = "folder"  # <label>/*.wav (Speech Commands naming without split lists included)
_SPLIT_LISTS = ("validation_list.txt", "testing_list.txt")


@dataclass(frozen=True)
class RealSource:
    """One real-speech folder of a ``real`` dataset: its clips, its layout, an optional published split and its
    background-noise folder."""

    root: Path
    layout: str
    clips: list[Clip]
    official: dict[Path, str]
    noise_dir: Path | None

    @property
    def name(self) -> str:
        return self.root.name


def detect_layout(root: Path) -> str:
    """The layout of a real-speech folder: FSDD (``recordings/`` or ``{digit}_{speaker}_{n}.wav`` files at the top),
    Speech Commands with its split lists, or a plain ``<label>/*.wav`` tree."""
    root = Path(root)
    if not root.is_dir():
        raise PipelineError(f"{root}: dataset folder does not exist")
    if (root / "recordings").is_dir() or any(_FSDD_NAME.match(p.stem) for p in _entries(root) if p.suffix == ".wav"):
        return LAYOUT_FSDD
    if any((root / name).is_file() for name in _SPLIT_LISTS):
        return LAYOUT_SPEECH_COMMANDS
    return LAYOUT_FOLDER


def load_real_source(root: Path, labels: list[str]) -> RealSource:
    """A real-speech folder of any supported layout, restricted to ``labels``.

    Label folders that are missing are allowed (a speaker may say only some words, e.g. one..five); other folders
    (Speech Commands' other words, ``_background_noise_``) are never clips. ``_background_noise_`` is returned as the
    source's noise folder.
    """
    root = Path(root)
    layout = detect_layout(root)
    official: dict[Path, str] = {}
    if layout == LAYOUT_FSDD:
        clips = [c for c in load_fsdd(root) if c.label in labels]
    else:
        present = [lab for lab in labels if (root / lab).is_dir()]
        if not present:
            raise PipelineError(f"{root}: none of the label folders {labels}")
        clips = load_folder(root, present) if len(present) > 1 else _one_label(root, present[0])
        if layout == LAYOUT_SPEECH_COMMANDS:
            _, official = load_speech_commands(root, present)
    noise = root / SPEECH_COMMANDS_NOISE_DIR
    return RealSource(root, layout, clips, official, noise if noise.is_dir() else None)


def _one_label(root: Path, label: str) -> list[Clip]:
    """The clips of a source that says a single label word (``load_folder`` wants two classes per dataset)."""
    wavs = [p for p in _entries(root / label) if p.suffix.lower() == ".wav"]
    if not wavs:
        raise PipelineError(f"{root / label}: empty class folder (no .wav files)")
    return [Clip(p, label, source_of(p)) for p in wavs]


def load_real(roots: list[Path], labels: list[str]) -> list[RealSource]:
    """Every real-speech folder of a ``real`` dataset; a speaker id found in two folders stops the stage (the same
    recordings twice would leak across splits and folds)."""
    sources = [load_real_source(Path(r), labels) for r in roots]
    owner: dict[str, Path] = {}
    for src in sources:
        for speaker in sorted({c.source for c in src.clips}):
            if speaker in owner and owner[speaker] != src.root:
                raise PipelineError(f"{src.root}: speaker {speaker!r} is also in {owner[speaker]} (the same "
                                    f"recordings twice?)")
            owner[speaker] = src.root
    return sources
