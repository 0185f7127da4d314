"""Dataset loaders (synthetic, folder, FSDD, AudioMNIST, Speech Commands v2), speaker-stable splits, feature cache."""
from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from data.config import PipelineError
from data.features import FeatureParams, check_audio_file, extract_file, unusable_entry
from data.parallel import ordered_map

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


def _source_hash(source: str) -> int:
    return int(hashlib.sha1(source.encode()).hexdigest(), 16)


def split_of(source: str, val_percent: int, test_percent: int) -> str:
    """Stable split of a source: a hash of its id, so adding data never moves existing speakers."""
    bucket = _source_hash(source) % 100
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
    """Group clips into train/val/test by source: a published split list where there is one (clips it does not
    list, e.g. generated ``_silence_``/``_unknown_`` clips, by the hash of their source); where every source
    has one label (a recording, a speaker saying one word) and there are at least two labels, the sources of each
    label are split apart (:func:`stratified_split`) so that every split holds every label; otherwise the hash of
    the source (:func:`split_of`)."""
    clips = list(clips)
    labels_of: dict[str, set[str]] = {}
    for c in clips:
        labels_of.setdefault(c.source, set()).add(c.label)
    stratified = (not official and len({c.label for c in clips}) > 1
                  and all(len(labels) == 1 for labels in labels_of.values()))
    if stratified:
        split_of_source = stratified_split({s: next(iter(labs)) for s, labs in labels_of.items()}, val_percent,
                                           test_percent)
    out: dict[str, list[Clip]] = {s: [] for s in SPLITS}
    for c in clips:
        if official and c.path in official:
            split = official[c.path]
        elif stratified:
            split = split_of_source[c.source]
        else:
            split = split_of(c.source, val_percent, test_percent)
        out[split].append(c)
    return out


def stratified_split(label_of: dict[str, str], val_percent: int, test_percent: int) -> dict[str, str]:
    """Split of each source when every source has one label: per label, its sources in the order of their hash,
    the first ``test_percent`` of them (rounded) to test, the next ``val_percent`` to val, the rest to training.
    A label with at least three sources gets at least one in each split (when its percentage is not 0).

    The hash split alone put all three test recordings of a two-voice set ("me vs mom", 24 recordings each) in one
    voice. Deterministic in the names only (no order, no folder); adding sources may move a few across splits.
    """
    by_label: dict[str, list[str]] = {}
    for source, label in label_of.items():
        by_label.setdefault(label, []).append(source)
    out: dict[str, str] = {}
    for sources in by_label.values():
        sources.sort(key=lambda s: (_source_hash(s), s))
        n = len(sources)
        counts = []
        for percent in (test_percent, val_percent):
            k = int(n * percent / 100 + 0.5)
            counts.append(max(k, 1) if n >= len(SPLITS) and percent > 0 else k)
        n_test, n_val = counts[0], min(counts[1], max(0, n - 1 - counts[0]))
        for i, source in enumerate(sources):
            out[source] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


# Training clips (or recordings) each label needs at least: one clip can only be memorized, not learned.
MIN_TRAIN_PER_LABEL = 2


def check_splits(splits: dict[str, list[Clip]], labels: list[str], dataset: str, skipped: Sequence[str] = (),
                 unit: str = "clips") -> None:
    """Refuse, in one line naming the split or the label, splits that cannot train or measure a model: an empty
    split, or a label with fewer than ``MIN_TRAIN_PER_LABEL`` training clips. Run on the planned splits, and again
    on the clips left after ``--skip-bad`` (``skipped``: their reasons) before any feature file replaces the earlier
    ones."""
    after = f" after skipping {len(skipped)} bad files (the first: {skipped[0]})" if skipped else ""
    for split in SPLITS:
        if not splits[split]:
            hint = "replace the bad files or add data" if skipped else (
                "too few speakers/sources for a speaker-wise split (add data, or name test speakers with --holdout)")
            raise PipelineError(f"the {split} split of dataset {dataset!r} has 0 {unit}{after}: {hint}")
    for label in labels:
        n = sum(c.label == label for c in splits["train"])
        if n < MIN_TRAIN_PER_LABEL:
            raise PipelineError(f"label {label!r} has {n} training {unit} in dataset {dataset!r}{after}, at least "
                                f"{MIN_TRAIN_PER_LABEL} are needed: add recordings of it")


def file_cache_key(path: Path, params: FeatureParams) -> str:
    """Cache key of features computed from the file at ``path``: a file rewritten in place (same name, new
    content, e.g. regenerated synthetic takes) gets a new key."""
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{params.digest()}"
    return hashlib.sha1(ident.encode()).hexdigest()


def load_cached(path: Path, params: FeatureParams) -> np.ndarray | None:
    """A cached feature matrix, or ``None`` when absent, unreadable, of the wrong shape or not plain floats
    (never unpickled: such an entry is simply recomputed)."""
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    return x if x.dtype == np.float32 and x.shape == params.shape else None


def save_cached(path: Path, x: np.ndarray) -> None:
    """Write a cache entry through a temporary name: a run killed while writing leaves no half entry behind."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, x, allow_pickle=False)
    os.replace(tmp, path)


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


def _clip_features(path: Path, params: FeatureParams, cache_dir: Path) -> tuple[np.ndarray, bool]:
    """MFCCs of one clip, from the cache or computed and cached at once; and whether they came from the cache."""
    check_audio_file(path)  # links, folders, permissions and header bounds, even for a cached clip
    cached = cache_dir / f"{file_cache_key(path, params)}.npy"
    x = load_cached(cached, params)
    if x is not None:
        return x, True
    x = extract_file(path, params)
    save_cached(cached, x)
    return x, False


@dataclass(frozen=True)
class ClipResult:
    """What a worker returns for one clip: its features (``None`` for a skipped bad file), the reason it was
    skipped, and whether the features came from the cache."""

    x: np.ndarray | None
    skipped: str | None
    cached: bool


def _clip_task(clip: Clip, params: FeatureParams, cache_dir: Path, skip_bad: bool) -> ClipResult:
    """One clip of :func:`clip_features` (runs in a worker process)."""
    skipped: list[str] = []
    got = read_or_skip(clip.path, lambda: _clip_features(clip.path, params, cache_dir), skip_bad, skipped)
    if got is None:
        return ClipResult(None, skipped[0], False)
    return ClipResult(got[0], None, got[1])


def clip_features(clips: list[Clip], params: FeatureParams, cache_dir: Path, skip_bad: bool, desc: str = "features",
                  jobs: int | None = None) -> Iterator[ClipResult]:
    """MFCCs of many clips through a per-file cache (``.npy``, read with ``allow_pickle=False``), on ``jobs``
    processes (``None``: every core), one result per clip in the clips' order.

    Every computed file is cached at once, so an error on a later file or an interruption loses nothing. A bad file
    raises one PipelineError naming it (the first in the clips' order), or is skipped with ``skip_bad``.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    task = functools.partial(_clip_task, params=params, cache_dir=cache_dir, skip_bad=skip_bad)
    return ordered_map(task, clips, len(clips), jobs, desc)


def extract_clips(clips: list[Clip], params: FeatureParams, cache_dir: Path, skip_bad: bool,
                  desc: str = "features", jobs: int | None = None) -> tuple[np.ndarray, list[Clip], list[str]]:
    """:func:`clip_features` gathered in memory (for sets that fit; the data stage streams them to disk instead,
    :class:`SplitWriter`).

    Returns
    -------
    x : np.ndarray, shape (n_ok, num_frames, num_mfcc), float32
    ok : list of Clip
        The clips in ``x``.
    skipped : list of str
        ``"<file>: <reason>"`` for each bad file (only with ``skip_bad``; otherwise the first one raises).
    """
    feats, ok, skipped = [], [], []
    for clip, result in zip(clips, clip_features(clips, params, cache_dir, skip_bad, desc, jobs)):
        if result.x is None:
            skipped.append(result.skipped)
            continue
        feats.append(result.x)
        ok.append(clip)
    x = np.stack(feats) if feats else np.zeros((0, *params.shape), np.float32)
    return x, ok, skipped


def save_split(path: Path, x: np.ndarray, clips: list[Clip], labels: list[str]) -> None:
    """Write one split as ``.npz`` (plain arrays only, so loading never needs pickle)."""
    np.savez(path, x=x.astype(np.float32), **split_rows(clips, labels))


def split_rows(clips: list[Clip], labels: list[str]) -> dict[str, np.ndarray]:
    """The arrays of a split besides ``x``: ``y``, ``ids``, ``sources``, ``labels``."""
    index = {lab: i for i, lab in enumerate(labels)}
    return {"y": np.array([index[c.label] for c in clips], np.int64),
            "ids": np.array([str(c.path) for c in clips], dtype=str),
            "sources": np.array([c.source for c in clips], dtype=str), "labels": np.array(labels, dtype=str)}


class SplitWriter:
    """One split written as its rows come: the features go to a temporary file next to ``path`` at once (memory
    holds one row), then :meth:`close` writes the ``.npz`` of :func:`save_split` (the same arrays, ``x`` stored
    uncompressed so that :func:`load_split` can map it instead of reading it)."""

    def __init__(self, path: Path, row_shape: tuple[int, ...]) -> None:
        self.path, self.row_shape = path, tuple(row_shape)
        self.rows_path = path.with_name(f".{path.name}.rows")
        self.rows = open(self.rows_path, "wb")
        self.n = 0

    def add(self, x: np.ndarray) -> None:
        if x.shape != self.row_shape:
            raise ValueError(f"row of shape {x.shape}, expected {self.row_shape}")
        self.rows.write(np.ascontiguousarray(x, "<f4").tobytes())
        self.n += 1

    def close(self, arrays: dict[str, np.ndarray]) -> None:
        """Write the ``.npz``: ``x`` (every row added) and ``arrays`` (one entry per row, or per split)."""
        import zipfile

        self.rows.close()
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
                  "shape": (self.n, *self.row_shape)}
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            with zf.open("x.npy", "w", force_zip64=True) as f, open(self.rows_path, "rb") as rows:
                np.lib.format.write_array_header_2_0(f, header)
                shutil.copyfileobj(rows, f, COPY_BYTES)
            for name, array in arrays.items():
                with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asarray(array), allow_pickle=False)
        self.rows_path.unlink()


# Bytes copied at a time when a split's rows are assembled into its .npz.
COPY_BYTES = 1 << 20


def _mapped_member(path: Path, name: str) -> np.ndarray | None:
    """The array ``name`` of an ``.npz`` mapped read-only from the file (no copy in memory), or ``None`` when the
    member is compressed."""
    import struct
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED:
            return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)  # the member's local header: fixed part, then its name and extra field
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        offset = f.tell()
    if fortran or dtype.hasobject:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


def load_split(path: Path, mmap: bool = False) -> dict[str, np.ndarray]:
    """Read a split written by :func:`save_split`: ``x`` (n, frames, coeffs), ``y`` (n,), ``ids``, ``sources``,
    ``labels``. With ``mmap``, ``x`` is mapped from the file instead of read (training streams its batches from it,
    whatever the size of the dataset)."""
    if not path.exists():
        raise PipelineError(f"{path}: missing; run `make train` first")
    with np.load(path, allow_pickle=False) as z:
        mapped = _mapped_member(path, "x.npy") if mmap and "x" in z.files else None
        return {k: mapped if k == "x" and mapped is not None else z[k] for k in z.files}


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
