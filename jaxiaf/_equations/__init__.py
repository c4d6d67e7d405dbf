"""Brian2 equations in: the front end (`Model`), the statement interpreter, the affine map, names, the
default equations."""
