"""Surrogate spike derivatives for `jax.grad` through spikes (see [`jaxiaf.evolve`][]'s `surrogate`)."""

from ._surrogate import ArcTan as ArcTan
from ._surrogate import PiecewiseLinear as PiecewiseLinear
from ._surrogate import Sigmoid as Sigmoid
from ._surrogate import SuperSpike as SuperSpike
from ._surrogate import Surrogate as Surrogate
