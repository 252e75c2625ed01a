"""Reporting: formats :class:`~wmbench.results.Results`, verdicts and results files, and never
computes them.

``table`` (rich tables for the terminal), ``junit`` (JUnit XML for CI), ``plots`` (matplotlib
figures, imported lazily) and ``reproduction`` (the Markdown report of ``wmbench reproduce``).
The results file itself is owned by :mod:`wmbench.results.document`.
"""
