"""Surrogate spike derivatives for `jax.grad` through spikes (see [`jaxiaf.evolve`][]'s `surrogate`)."""

from ._core.surrogate import ArcTan as ArcTan
from ._core.surrogate import PiecewiseLinear as PiecewiseLinear
from ._core.surrogate import Sigmoid as Sigmoid
from ._core.surrogate import SuperSpike as SuperSpike
from ._core.surrogate import Surrogate as Surrogate
