"""Benchmarks run by ``python -m course_utils benchmark NAME``; each module has ``run(quick)``."""
