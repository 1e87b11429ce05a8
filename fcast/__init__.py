"""fcast: forecasting infrastructure on Dask."""

__version__ = "0.1.0"
