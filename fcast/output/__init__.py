"""What a run produces for people: quality control, plots, the report, publishing."""
