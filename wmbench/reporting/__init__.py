"""Reporting: formats :class:`~wmbench.results.Results`, verdicts and results files, and never
computes them.

``grid`` (the models × parameter points of a perturbation, shared by the tables), ``table``
(rich tables for the terminal), ``markdown`` (GitHub-flavoured Markdown for CI job summaries and
pull-request comments), ``junit`` (JUnit XML for CI), ``plots`` (matplotlib figures, imported
lazily) and ``reproduction`` (the Markdown report of ``wmbench reproduce``).
The results file itself is owned by :mod:`wmbench.results.document`.
"""
