"""Markets that are not simply tuned: new-market proxies, custom markets, business adjustments."""
