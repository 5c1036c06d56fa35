from __future__ import annotations

import time

import pytest
import torch

from bench.memory import peak_memory

MB = 2**20


def test_cpu_peak_sees_a_short_lived_allocation() -> None:
    with peak_memory("cpu") as memory:
        block = torch.ones(40 * MB // 4)  # 40 MB, touched, then freed inside the block
        block += 1
        time.sleep(0.03)  # ten sampling intervals
        del block
    assert memory.source == "rss_sampled"
    assert memory.extra_bytes >= 30 * MB
    assert memory.peak_bytes >= memory.extra_bytes


def test_cpu_peak_after_a_bigger_block_still_sees_the_smaller_one() -> None:
    # freed heap memory stays resident unless trimmed: without malloc_trim the second block
    # would reuse the first one's pages and read as ~0 MB
    big = [torch.ones(MB // 4) for _ in range(120)]  # 120 MB in heap-sized pieces
    for t in big:
        t += 1
    del big, t
    with peak_memory("cpu") as memory:
        small = [torch.ones(MB // 4) for _ in range(40)]
        for t in small:
            t += 1
        time.sleep(0.03)
        del small, t
    assert memory.extra_bytes >= 30 * MB


def test_cpu_peak_of_idle_block_is_small() -> None:
    with peak_memory("cpu") as memory:
        time.sleep(0.01)
    assert 0 <= memory.extra_bytes < 8 * MB


def test_peak_is_filled_in_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError), peak_memory("cpu") as memory:
        raise RuntimeError("boom")
    assert memory.source == "rss_sampled"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak_counts_allocated_bytes() -> None:
    with peak_memory("cuda") as memory:
        block = torch.ones(64 * MB // 4, device="cuda")
        del block
    assert memory.source == "cuda_allocated"
    assert memory.extra_bytes >= 64 * MB
