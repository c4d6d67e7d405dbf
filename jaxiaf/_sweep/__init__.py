"""Many parameter sets in one compiled call: `sweep` and the placement of its chunks on devices."""
