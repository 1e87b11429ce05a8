"""Print the mutation score of `make mutate` from mutmut's exported stats (one line)."""

from __future__ import annotations

import json
import sys

#: outcomes of a mutant that was run (the rest of `total` is not checked yet)
CHECKED = ("killed", "survived", "no_tests", "timeout", "suspicious", "segfault")


def summary(stats: dict[str, int]) -> str:
    """killed/checked with the percentage, what else happened, and how many are not checked yet."""
    checked = sum(stats.get(k, 0) for k in CHECKED)
    pct = 100 * stats["killed"] / max(checked, 1)
    return (
        f"mutation score: {stats['killed']}/{checked} killed ({pct:.1f}%), "
        f"{stats['survived']} survived, {stats['no_tests']} without tests, "
        f"{stats['timeout']} timed out; {stats['total'] - checked} of {stats['total']} not checked yet"
    )


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(summary(json.load(f)))
