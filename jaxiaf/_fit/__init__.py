"""Fitting: the driver, evolution strategies, gradients and Gauss-Newton, the result and its flags,
metrics."""
