"""Field checks shared by every config: one loop that raises the one `ConfigError`.

Each config's ``__post_init__`` lists ``(field, ok, why)`` and hands the list to `check_fields`,
so every refused value is reported the same way, naming the field, the value and what it must be.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from asrlab.errors import ConfigError

Check = tuple[str, bool, str]  # (field name, whether its value is acceptable, what it must be)


def check_fields(config: Any, checks: Iterable[Check], *, prefix: str = "") -> None:
    """Raise `ConfigError` for the first check that fails, with ``config``'s value of that field.

    ``prefix`` names where the fields live (``"mix."`` for a mix item); the error's value is then
    the whole ``config``, since a field alone would not say which item it was.
    """
    for name, ok, why in checks:
        if not ok:
            value = config if prefix else getattr(config, name)
            raise ConfigError(f"{prefix}{name}", value, why)


def positive(x: Any) -> bool:
    """A finite number > 0 (not a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def none_or_positive(x: Any) -> bool:
    return x is None or positive(x)


def whole(x: Any, least: int) -> bool:
    """A whole number >= `least` (not a bool)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool) and bool(x >= least)
