"""The options of the proxy model for new markets (apart from the model, so reading a config stays light)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fcast.options import Options


class NewMarketsConfig(Options):
    """The proxy model for new and pre-launch markets."""

    features: list[str] | None = Field(
        None, description="external features used; default: all numeric"
    )
    proxies: int = Field(5, ge=1, description="proxies per new market")
    method: Literal["kmeans_knn", "knn"] = "kmeans_knn"
    clusters: int | None = Field(None, ge=1)
    pca: int | None = Field(
        None, ge=1, description="PCA components before clustering; none: no reduction"
    )
