"""The image shape of each data set wmbench knows, as (channels, height, width).

Model specs and suites name a data set; this table lets them check a model's input shape against
it without loading any data. Data sets whose shape depends on the user's files (``npz``,
``folder``) are not here: their shape is known once they are read.
"""

from __future__ import annotations

IMAGE_SHAPES = {  # (channels, height, width) of a data set's images
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
    "kmnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
    "svhn": (3, 32, 32),
}
