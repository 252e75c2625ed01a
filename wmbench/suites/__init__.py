"""Robustness suites: the YAML format (schema), the loader, and the runner that measures them."""

from wmbench.suites.loader import LoadedSuite, load_suite, parse_suite
from wmbench.suites.runner import run_suite
from wmbench.suites.schema import Suite

__all__ = ["LoadedSuite", "Suite", "load_suite", "parse_suite", "run_suite"]
