"""Laws of the combined forecast that hold for all inputs (hypothesis, small and fast)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fcast.core.apply import forecast_series
from fcast.core.models import Model

FAST = settings(max_examples=25, deadline=None)
ORDER = ("lo-95", "lo-80", "mean", "hi-80", "hi-95")


class _Failing:
    uses_x = False
    family = "ets"
    season_length = 4

    def forecast(self, *args, **kwargs):
        raise RuntimeError("cannot fit")


series = st.lists(
    st.floats(0.0, 1000.0, allow_nan=False, allow_infinity=False), min_size=9, max_size=24
).map(np.asarray)
season = st.sampled_from([1, 2, 4])


@FAST
@given(
    weights=st.lists(st.floats(0.01, 10.0), min_size=2, max_size=5),
    failed=st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_weights_sum_to_one_after_any_members_fail(weights, failed):
    # every surviving member forecasts 1, 2, 3, 4: whatever the weights and failures, so does
    # the combination, which it can only if the surviving weights are re-normalised to 1
    y = np.array([1.0, 2, 3, 4] * 3)
    sn = Model.create("seasonal_naive", {}, 4)
    flags = failed[: len(weights)]
    if all(flags):
        flags[0] = False  # at least one survivor (all failing is the fallback, tested elsewhere)
    members = [(_Failing() if f else sn, w) for f, w in zip(flags, weights, strict=True)]
    fc, _ = forecast_series(y, members, 4, [80, 95])
    np.testing.assert_allclose(fc["mean"], [1.0, 2.0, 3.0, 4.0], rtol=1e-9)


@FAST
@given(
    y=series,
    seasons=st.lists(season, min_size=1, max_size=3),
    weights=st.lists(st.floats(0.01, 10.0), min_size=3, max_size=3),
    combine=st.sampled_from(["mean", "median"]),
)
def test_bounds_stay_ordered_and_the_combination_lies_within_its_members(
    y, seasons, weights, combine
):
    models = [Model.create("seasonal_naive", {}, m) for m in seasons]
    members = list(zip(models, weights, strict=False))
    fc, _ = forecast_series(y, members, 4, [80, 95], combine=combine)
    for lower, upper in zip(ORDER, ORDER[1:], strict=False):
        assert (fc[lower] <= fc[upper] + 1e-9).all(), (lower, upper)
    each = np.array([m.forecast(y, 4, level=[80, 95])["mean"] for m in models])
    assert (fc["mean"] >= each.min(axis=0) - 1e-9).all()
    assert (fc["mean"] <= each.max(axis=0) + 1e-9).all()
