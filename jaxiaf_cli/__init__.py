"""The `jaxiaf` command line. It sits beside `jaxiaf` and `brian_ref`, so that neither imports the other."""

from ._main import main as main
