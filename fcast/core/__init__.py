"""The strict core: labeling, the parameter space, models, metrics, tuning, selection, application."""
