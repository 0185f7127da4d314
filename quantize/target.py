"""What the firmware's pinned TFLM needs on the target, from what the quantize stage can see on the host.

- ``firmware_arena_bytes``: the tensor arena for ``model_settings.h``. quantize measures the arena with the host
  ``tflite-micro`` interpreter (64-bit pointers, reference kernels); the board runs TFLM 90b983c2 on a 32-bit
  Cortex-M4F with either kernel set. Measured on the emulated Cortex-M4F (``make bench-emulated``: HELLO's
  ``arena=``, TFLM's ``arena_used_bytes()``) for the BiLSTM-24 on 100x13 whose host measurement is 9,840 B:
  reference kernels 8,340 B, CMSIS-NN 10,308 B (the int8 LSTM's scratch buffers). The larger target/host ratio
  scales the host measurement before the margin, so the arena covers both kernel sets on a machine without the ARM
  toolchain; tests/test_emulated_firmware.py checks the ratio on the target whenever QEMU is there.
- ``pinned_tflm_ops``: the builtin operators the pinned TFLM tree's ``MicroMutableOpResolver`` can add, so that the
  op check also fails when the model needs an operator that TFLM revision does not have (e.g. REVERSE_V2 before
  2025-07).
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable

from data.config import REPO_ROOT, PipelineError

# Largest target/host arena ratio measured on the emulated Cortex-M4F (CMSIS-NN kernels, TFLM 90b983c2).
TARGET_ARENA_RATIO = 10308 / 9840
ARENA_ALIGN = 16  # CMSIS-NN wants the arena 16-byte aligned; TFLM rounds its own buffers to 16 as well
# The Cortex-M4F tree that `make third-party` unpacks (firmware/third_party.mk, TFLM_CM4).
PINNED_TFLM_GLOB = "build/third_party/tflm-*-cortex-m4f-cmsis-nn"
RESOLVER_HEADER = "tensorflow/lite/micro/micro_mutable_op_resolver.h"


def firmware_arena_bytes(host_arena: int, margin: float) -> int:
    """``kTensorArenaSize``: the host measurement scaled to the largest target use, times ``margin``, aligned."""
    return int(math.ceil(host_arena * TARGET_ARENA_RATIO * margin / ARENA_ALIGN) * ARENA_ALIGN)


def pinned_tflm_ops(op_name: Callable[[str], str], root: Path = REPO_ROOT) -> tuple[Path, set[str]] | None:
    """The pinned tree's resolver header and the builtin op names (``op_name`` of each ``Add<Method>``) it can
    add; ``None`` when the tree is not unpacked."""
    trees = sorted(root.glob(PINNED_TFLM_GLOB))
    if not trees or not (trees[-1] / RESOLVER_HEADER).is_file():
        return None
    header = trees[-1] / RESOLVER_HEADER
    methods = set(re.findall(r"TfLiteStatus Add(\w+)\(", header.read_text())) - {"Custom"}
    return header, {op_name(m) for m in methods}


def check_pinned_tflm(model_ops: list[str], op_name: Callable[[str], str], root: Path = REPO_ROOT) -> None:
    """Fail when the model needs an operator the pinned TFLM cannot register (no check without the tree)."""
    pinned = pinned_tflm_ops(op_name, root)
    if pinned is None:
        return
    header, available = pinned
    missing = sorted(set(model_ops) - available)
    if missing:
        raise PipelineError(f"{header}: the pinned TFLM has no kernel for {missing} (model ops: {model_ops})")
