"""Robustness suites: the loader (YAML → validated suite), the runner (suite → results) and the
progress file of interrupted runs. The file format itself is :mod:`wmbench.schema`."""

from wmbench.schema import Suite
from wmbench.suites.loader import LoadedSuite, load_suite, parse_suite
from wmbench.suites.runner import run_suite

__all__ = ["LoadedSuite", "Suite", "load_suite", "parse_suite", "run_suite"]
