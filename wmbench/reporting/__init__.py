"""Reporting: formats :class:`~wmbench.results.Results` and verdicts, and never computes them.

``table`` (rich tables for the terminal), ``json`` (the versioned results file, see
docs/results-json.md) and ``junit`` (JUnit XML for CI).
"""
