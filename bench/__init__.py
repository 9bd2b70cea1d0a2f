"""Benchmarks of Stint on PostgreSQL (127.0.0.1:5432), each beside the fastest plain thing doing the same work.

`python -m bench` (or `make bench`) measures the HTTP API against a bare asyncpg app; modules with
a `python -m bench.<name>` entry of their own measure one part (the sweeper, webhook delivery...).
Each uses a database of its own and writes a JSON report to bench/results/.
"""
