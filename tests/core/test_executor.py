"""The one block executor: block order, in-process equals a cluster, and the time limit."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from fcast.core.executor import Block, run_blocks


def square_sum(a: np.ndarray, k: int) -> float:
    """A kernel with a known answer: k * sum(a^2)."""
    return float(k * np.sum(a**2))


def wait_for(flag: str, value: float) -> float:
    """A kernel that returns `value` once the file `flag` exists (it never does in these tests)."""
    while not Path(flag).exists():
        time.sleep(0.02)
    return value


def nan_for(flag: str, value: float) -> float:
    """What a block of `wait_for` holds when it runs out of time."""
    return float("nan")


def blocks_of(n: int) -> list[Block]:
    return [Block(str(i), i, (np.arange(i + 1, dtype=float), i)) for i in range(n)]


def test_results_come_back_in_block_order_in_process_and_on_a_cluster(client2):
    expected = [i * sum(j * j for j in range(i + 1)) for i in range(5)]
    seen: list[str] = []
    local = run_blocks(square_sum, blocks_of(5), on_done=lambda b, r: seen.append(b.name))
    assert local == expected and seen == ["0", "1", "2", "3", "4"]
    assert run_blocks(square_sum, blocks_of(5), client=client2) == expected
    assert run_blocks(square_sum, [], client=client2) == []


def test_a_commit_runs_after_the_kernel_and_gives_the_result():
    calls = []

    def commit(key: int, out: float, t0: float, timed_out: bool) -> tuple[int, float, bool]:
        calls.append(key)
        return key, out, timed_out

    out = run_blocks(square_sum, blocks_of(3), commit=commit)
    assert out == [(0, 0.0, False), (1, 1.0, False), (2, 10.0, False)] and calls == [0, 1, 2]


@pytest.fixture()
def never(tmp_path):
    """A flag file that is never created while the test runs; created afterwards to free the abandoned kernels."""
    flag = tmp_path / "release"
    yield str(flag)
    flag.touch()


def test_in_process_a_block_past_the_limit_gets_its_timed_out_output(never):
    blocks = [Block("fast", 0, (str(Path(never).parent), 1.0)), Block("stuck", 1, (never, 2.0))]
    # the stuck block waits until the test ends, so returning at all means it was cut off; the
    # limit is far above what the fast block needs on a loaded machine
    out = run_blocks(
        wait_for,
        blocks,
        task_timeout=5.0,
        timed_out=nan_for,
        commit=lambda key, value, t, late: (value, late),
    )
    assert out[0] == (1.0, False) and np.isnan(out[1][0]) and out[1][1] is True


def test_on_a_cluster_a_block_past_the_limit_gets_its_timed_out_output(never, client2):
    blocks = [Block("fast", 0, (str(Path(never).parent), 1.0)), Block("stuck", 1, (never, 2.0))]
    out = run_blocks(wait_for, blocks, client=client2, task_timeout=5.0, timed_out=nan_for)
    assert out[0] == 1.0 and np.isnan(out[1])


def test_a_time_limit_needs_a_timed_out_output():
    with pytest.raises(ValueError, match="needs `timed_out`"):
        run_blocks(square_sum, blocks_of(1), task_timeout=1.0)
