"""Benchmarks of symphony-assist: what a user saves and how fast it feels (issue #9).

`python -m bench` runs them all and prints one markdown table (`--json` for the figures, `--quick` for
CI, `--only NAME,...`, `--check` to exit 1 on a missed target). Every speed figure is a ratio against
a baseline measured in the same run. Modules: run (the runner), common (timing, environments, the fake
server), cost, hook, speed (--help, pytest), peer_litellm, throughput, scale. coverage.py and
pytest_overhead.py are colleagues' scripts that the runner folds in.
"""
