"""Rockpool's timed layer `FFIAFBrian`, the page's surface, the time base and the time series."""
