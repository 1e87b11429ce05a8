"""Notebook plots that work offline: BokehJS and Panel's JS and CSS inline, nothing from a CDN.

`fcast.notebook` calls `inline_bokeh` before its first plot (and re-exports it). The inline
setting stays on for the rest of the Python session (docs/notebooks.md).
"""

from __future__ import annotations

from typing import Any


def inline_bokeh() -> None:
    """Notebook plots that work offline: BokehJS, Panel's JS and CSS inline, nothing from a CDN."""
    import holoviews as hv
    import panel as pn

    # every loader (holoviews', hvplot's on import, Panel's) inlines, none links a CDN
    pn.config.inline = hv.extension.inline = True
    _inline_panel_css()
    if not getattr(hv.extension, "_loaded", False):
        hv.extension("bokeh", inline=True, logo=False)


def _inline_panel_css() -> None:
    """Panel's stylesheets inline in every plot (holoviews links them from cdn.holoviz.org)."""
    from panel.viewable import Viewable

    if _inline_css not in Viewable._preprocessing_hooks:
        Viewable._preprocessing_hooks.append(_inline_css)


def _inline_css(viewable: Any, root: Any) -> None:
    """A Panel preprocessing hook: each element's CDN stylesheets replaced by their text."""
    from bokeh.models import UIElement

    try:
        from panel.io.notebook import patch_inline_stylesheets
    except ImportError:  # a Panel without it links its CSS (the plots still render offline)
        return
    for model in root.select({"type": UIElement}):
        patch_inline_stylesheets(model)
