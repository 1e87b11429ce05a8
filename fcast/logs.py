"""Logging for fcast and the Dask libraries it drives: one `configure(verbosity)` for the CLI.

Messages go through the standard `logging` module under the ``fcast`` logger (modules use
``logging.getLogger(__name__)``). The CLI's handler prints ``warning: ...``/``error: ...``
prefixes and plain info lines on stderr; ``-q`` shows only errors, ``-v`` adds info from
Dask (``distributed``) and ``-vv`` debug. In a notebook or a library, fcast adds no handler:
the host application decides.
"""

from __future__ import annotations

import logging
import sys

#: loggers of the libraries fcast drives, quiet unless asked for
DASK_LOGGERS = ("distributed", "dask", "bokeh", "tornado")


class _Prefixed(logging.Formatter):
    """`warning: text` for warnings and errors, the bare text for info and debug."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {text}"
        return text


def levels(verbosity: int) -> tuple[int, int]:
    """(fcast level, Dask level) for a verbosity: -1 quiet, 0 default, 1 verbose, 2 debug."""
    if verbosity < 0:
        return logging.ERROR, logging.ERROR
    if verbosity == 0:
        return logging.INFO, logging.ERROR
    if verbosity == 1:
        return logging.INFO, logging.INFO
    return logging.DEBUG, logging.DEBUG


def configure(verbosity: int = 0) -> None:
    """Route fcast's and Dask's log records to stderr at the levels `verbosity` gives."""
    ours, dask = levels(verbosity)
    root = logging.getLogger("fcast")
    for handler in list(root.handlers):
        if getattr(handler, "_fcast_cli", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Prefixed("%(message)s"))
    handler._fcast_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(ours)
    root.propagate = False
    for name in DASK_LOGGERS:
        logging.getLogger(name).setLevel(dask)
