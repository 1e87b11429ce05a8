"""Print the mutation score of `make mutate` from mutmut's exported stats (one line)."""

from __future__ import annotations

import json
import sys


def summary(stats: dict[str, int]) -> str:
    """killed/total, the percentage, and how many survived, had no test or timed out."""
    total = max(stats["total"], 1)
    return (
        f"mutation score: {stats['killed']}/{stats['total']} killed "
        f"({100 * stats['killed'] / total:.1f}%), {stats['survived']} survived, "
        f"{stats['no_tests']} without tests, {stats['timeout']} timed out"
    )


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(summary(json.load(f)))
