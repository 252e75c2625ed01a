"""The image shape of each data set wmbench knows, as (channels, height, width).

Model specs and suites name a data set; this table lets them check a model's input shape against
it without loading any data.
"""

from __future__ import annotations

IMAGE_SHAPES = {"mnist": (1, 28, 28)}  # (channels, height, width) of a data set's images
