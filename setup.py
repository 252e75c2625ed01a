"""The package list, which pyproject.toml cannot give: wmbench's own packages, found, plus the two
data packages that pyproject.toml's ``package-dir`` maps from the top-level ``models/`` and
``suites/`` (a ``packages.find`` table cannot see them, and a static list would need every new
subpackage added by hand). Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

SHIPPED = ["wmbench._shipped.models", "wmbench._shipped.suites"]

setup(packages=[*find_packages(include=["wmbench", "wmbench.*"]), *SHIPPED])
