"""The one progress bar of the library (sweep chunks, fit generations)."""


def bar(total: int, show: bool | None, desc: str, unit: str):
    """A tqdm bar over `total` items, or None when not shown.

    The rule every caller follows: `show=None` (the default of `sweep` and `fit`) shows a bar when there is
    more than one item to wait for (chunks, generations); `True` and `False` force it on or off.
    """
    if not (total > 1 if show is None else show):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)
