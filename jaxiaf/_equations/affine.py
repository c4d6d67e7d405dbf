"""Moved to `jaxiaf._core.affine` (the core runs the generated statements; `_equations`, the front
end, imports the core, not the other way round). Kept only until `jaxiaf/_core/scan.py`, `constants.py` and
`steps.py` import `from . import affine`; then delete this file."""

from .._core.affine import *  # noqa: F403
