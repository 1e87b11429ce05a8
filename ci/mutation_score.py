"""Print the mutation score of `make mutate` from mutmut's exported stats (one line).

`--by-module MUTANTS_DIR` prints instead the per-module markdown table of docs/testing.md
(killed/checked, survived, no tests, not checked), read from mutmut's `*.py.meta` files.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

#: outcomes of a mutant that was run (the rest of `total` is not checked yet)
CHECKED = ("killed", "survived", "no_tests", "timeout", "suspicious", "segfault")

#: mutmut 3's exit codes of a mutant, by outcome (mutmut.stats.status_by_exit_code)
OUTCOME = {
    1: "killed",
    3: "killed",
    0: "survived",
    5: "no_tests",
    33: "no_tests",
    None: "unchecked",
}


def summary(stats: dict[str, int]) -> str:
    """killed/checked with the percentage, what else happened, and how many are not checked yet."""
    checked = sum(stats.get(k, 0) for k in CHECKED)
    pct = 100 * stats["killed"] / max(checked, 1)
    return (
        f"mutation score: {stats['killed']}/{checked} killed ({pct:.1f}%), "
        f"{stats['survived']} survived, {stats['no_tests']} without tests, "
        f"{stats['timeout']} timed out; {stats['total'] - checked} of {stats['total']} not checked yet"
    )


def module_counts(meta: dict) -> Counter:
    """Outcome counts of one module's mutants (anything else, e.g. a timeout, counts as 'other')."""
    return Counter(OUTCOME.get(code, "other") for code in meta["exit_code_by_key"].values())


def by_module(mutants: Path) -> str:
    """The per-module markdown table, one row per mutated module, and a total row."""
    lines = [
        "| module | killed/checked | survived | no tests | other | not checked |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    total: Counter = Counter()
    for path in sorted(mutants.rglob("*.py.meta")):
        c = module_counts(json.loads(path.read_text()))
        total += c
        name = path.relative_to(mutants).as_posix().removesuffix(".meta")
        lines.append(_row(f"`{name}`", c))
    lines.append(_row("**all**", total))
    return "\n".join(lines)


def _row(name: str, c: Counter) -> str:
    """One table row: killed/checked (percent), survived, no tests, other, not checked."""
    checked = c["killed"] + c["survived"] + c["no_tests"] + c["other"]
    pct = f" ({100 * c['killed'] / checked:.1f}%)" if checked else ""
    return (
        f"| {name} | {c['killed']}/{checked}{pct} | {c['survived']} | {c['no_tests']} "
        f"| {c['other']} | {c['unchecked']} |"
    )


if __name__ == "__main__":
    if sys.argv[1] == "--by-module":
        print(by_module(Path(sys.argv[2])))
    else:
        with open(sys.argv[1]) as f:
            print(summary(json.load(f)))
