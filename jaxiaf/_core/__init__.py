"""The pure core: the one `lax.scan`, its constants, integrators, pytrees, surrogate, checks, units and
defaults."""
