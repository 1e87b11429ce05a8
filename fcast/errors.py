"""Errors fcast raises for bad input: each message says what is wrong and where."""


class FcastError(Exception):
    """Base class for errors caused by input or configuration, not by bugs."""


class ConfigError(FcastError):
    """An invalid configuration or space file."""


class DataError(FcastError):
    """Actuals that cannot be turned into a cube."""


class StoreError(FcastError):
    """A store operation that cannot proceed (missing tuning, existing vintage, ...)."""
