"""A registered family with regressors whose forecast is known by hand ('echo'), for the core's x paths."""

from __future__ import annotations

import pytest

from fcast.core.models import FAMILIES, Family, Model, register


class Echo:
    """mean = X_future[:, 0] + X[:, 0].sum() + len(y); lo-L / hi-L = mean -/+ L."""

    def forecast(self, y, h, level=None, X=None, X_future=None):  # noqa: ANN001, N803
        """The forecast a test can compute by hand from what the model saw."""
        mean = X_future[:, 0] + X[:, 0].sum() + len(y)
        out = {"mean": mean}
        for lv in level or []:
            out[f"lo-{lv}"], out[f"hi-{lv}"] = mean - lv, mean + lv
        return out


@pytest.fixture(scope="module")
def echo():
    """The echo model on the event feature 'evt' (season 2), registered for the module only."""
    register(
        Family("echo", {}, lambda p, m: Echo(), uses_x=True)
    )  # a real family, like an extension
    yield Model.create("echo", {"holidays": "evt"}, 2)
    FAMILIES.unregister("echo")
