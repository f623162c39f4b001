"""Benchmarks of a live hub: seeding (:mod:`bench.seed`), load (:mod:`bench.run`).

Run ``python -m bench.run --help`` (``make bench``); see ``bench/README.md``.
"""
