"""Custom markets: a forced model per market, with errors that name the market."""

from __future__ import annotations

import pytest

from fcast.config import CustomModelConfig
from fcast.errors import ConfigError
from fcast.markets.custom import custom_members


def test_custom_members_force_one_model_per_market():
    members = custom_members(
        {
            "IS": CustomModelConfig(family="ets", params={"spec": "AAdN"}, reason="trial"),
            "MT": {"family": "seasonal_naive", "params": {}},
        },
        52,
    )
    ((model, weight),) = members["IS"]
    assert (model.family, model.params["spec"], model.season_length, weight) == (
        "ets",
        "AAdN",
        52,
        1.0,
    )
    assert members["MT"][0][0].family == "seasonal_naive"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"family": "nbeats"}, "custom.IS: unknown model family 'nbeats'"),
        (
            {"family": "ets", "params": {"alpha": 1}},
            "custom.IS: family 'ets' has no parameter 'alpha'",
        ),
        (
            {"family": "ets", "params": {"spec": "AAA"}},
            "custom.IS.params: ETS spec 'AAA' is seasonal",
        ),
        (
            {"family": "no_such_module_xyz:family"},
            "custom.IS: cannot load model family 'no_such_module_xyz:family'",
        ),
    ],
)
def test_custom_members_errors_name_the_market(spec, message):
    with pytest.raises(ConfigError) as info:
        custom_members({"IS": CustomModelConfig(**spec)}, 52)
    assert message in str(info.value)
