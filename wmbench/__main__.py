"""``python -m wmbench``."""

from wmbench.cli import main

main()
