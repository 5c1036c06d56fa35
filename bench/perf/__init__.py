"""The perf suite: pytest-benchmark modules timing every registered method against its
reference (torchattacks, Captum) and the bare floor of the same model passes.

Run it with ``pytest bench/perf --benchmark-json perf.json`` (``--perf-quick`` for the smoke
mode CI runs through tests/bench/test_perf_smoke.py).
"""
