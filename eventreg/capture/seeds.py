"""
:func:`seed_everything`: one seed for every random number generator a training script uses.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

from eventreg.errors import ValidationError

__all__ = ["seed_everything"]


def seed_everything(seed: int, *, run: Any = None) -> dict[str, Any]:
    """
    Seed Python's ``random``, numpy and torch (when installed) and record the seed.

    The seed is recorded as the tag ``eventreg.seed`` of ``run``, or of the run started
    last in this process that is still active; ``PYTHONHASHSEED`` is recorded too (it
    must be set before Python starts to take effect, so it is only reported).

    Returns:
        ``{"seed": n, "seeded": ["random", "numpy", ...]}``.

    Raises:
        ValidationError: ``seed`` is not an integer in 0 .. 2**32 - 1.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValidationError(f"seed must be an integer in 0 .. 2**32 - 1, not {seed!r}")
    seeded = ["random"]
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        np.random.seed(seed)
        seeded.append("numpy")
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import importlib.util

            if importlib.util.find_spec("torch") is not None:
                import torch  # type: ignore[no-redef]
        except ImportError:
            torch = None
    if torch is not None:
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)
        seeded.append("torch")
    target = run if run is not None else _active_run()
    if target is not None:
        tags = {"eventreg.seed": str(seed), "eventreg.seeded": ",".join(seeded)}
        if os.environ.get("PYTHONHASHSEED"):
            tags["eventreg.pythonhashseed"] = os.environ["PYTHONHASHSEED"]
        target.set_tags(tags)
    return {"seed": seed, "seeded": seeded}


def _active_run() -> Any:
    from eventreg.capture import active_run

    return active_run()
