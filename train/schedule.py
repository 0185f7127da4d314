"""The learning-rate schedule of ``config.toml [train] lr_schedule``, shared by classification and regression."""
from __future__ import annotations

from typing import Any

from data.config import PipelineError

SCHEDULES = ("cosine", "constant", "step")
# "step": the rate is multiplied by STEP_FACTOR after every STEP_FRACTION of the planned updates.
STEP_FACTOR = 0.5
STEP_FRACTION = 0.25


def learning_rate(keras: Any, tcfg: dict[str, Any], total_steps: int) -> Any:
    """The optimizer's learning rate over ``total_steps`` updates from ``learning_rate`` and ``lr_schedule``:
    ``cosine`` decays to zero (the last epochs fine-tune at a small rate instead of bouncing at a large one),
    ``constant`` keeps it, ``step`` halves it every quarter of the planned updates."""
    rate, name = float(tcfg["learning_rate"]), tcfg["lr_schedule"]
    if name not in SCHEDULES:
        raise PipelineError(f"config.toml [train]: lr_schedule must be one of {', '.join(SCHEDULES)}, got {name!r}")
    total_steps = max(1, int(total_steps))
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, total_steps)
    if name == "step":
        return keras.optimizers.schedules.ExponentialDecay(rate, max(1, int(total_steps * STEP_FRACTION)),
                                                           STEP_FACTOR, staircase=True)
    return rate
