"""What one model's measurement adds up over its batches, and how the ranks of a ``torchrun``
job put their shares together so that every rank ends with exactly one process's tally.

Counts are integers, so their sum over ranks is exact in any order. Sums of floats are not: the
activation MSE is kept per batch (a column per global batch, zero where another rank measured)
and the per-layer norms per image, so that after the all-reduce — each entry the sum of one
rank's value and zeros, which is that value exactly — the folds over batches and images run in
the one-process order and give the same bits. The counters of the sanity checks travel as JSON
and are added in rank order; the first batch's warnings are rank 0's, as rank 0 owns batch 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

from wmbench import sanity
from wmbench.distributed import World
from wmbench.lsa import ErrorSums
from wmbench.results import SanityWarning


@dataclass
class Tally:
    """One model's running sums over the batches this rank measured."""

    points: int
    batches: int
    device: torch.device
    wrong: torch.Tensor = field(init=False)
    batch_mse: torch.Tensor = field(init=False)
    starts: list[int] = field(default_factory=list)
    broken: dict[int, dict[str, int]] = field(default_factory=dict)
    gradients: sanity.GradientStats = field(default_factory=sanity.GradientStats)
    noise: sanity.NoiseComparison = field(default_factory=sanity.NoiseComparison)
    masking: sanity.MaskingStats = field(default_factory=sanity.MaskingStats)
    warnings: list[SanityWarning] = field(default_factory=list)
    layer_sums: dict[int, ErrorSums] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.wrong = torch.zeros(self.points, dtype=torch.long, device=self.device)
        self.batch_mse = torch.zeros(
            self.points, self.batches, dtype=torch.float64, device=self.device
        )


def combine(world: World, tally: Tally, images: int) -> None:
    """Turns this rank's ``tally`` into the whole job's, in place (a collective: every rank
    calls it once per model, in the same order)."""
    world.sum_(tally.wrong)
    world.sum_(tally.batch_mse)
    for sums in tally.layer_sums.values():
        columns = sums.spread(tally.starts, images)
        for column in columns.values():
            world.sum_(column)
        sums.take(columns)
    shares = world.gather_json(_counters(tally))
    tally.broken, tally.warnings = {}, []
    tally.gradients = sanity.GradientStats()
    tally.noise, tally.masking = sanity.NoiseComparison(), sanity.MaskingStats()
    for share in shares:
        _add(tally, share)


def _counters(tally: Tally) -> dict:
    return {
        "broken": tally.broken,
        "gradients": asdict(tally.gradients),
        "noise": asdict(tally.noise),
        "masking": asdict(tally.masking),
        "warnings": [asdict(warning) for warning in tally.warnings],
    }


def _by_index(counts: dict[str, object]) -> dict[int, object]:
    """JSON keeps a dict's integer keys as text; these are point indices."""
    return {int(key): value for key, value in counts.items()}


def _add_counts(into: dict, counts: dict) -> None:
    for key, value in counts.items():
        into[key] = into.get(key, 0) + value


def _add(tally: Tally, share: dict) -> None:
    for index, counts in _by_index(share["broken"]).items():
        _add_counts(tally.broken.setdefault(index, {}), counts)
    gradients = share["gradients"]
    tally.gradients.images += gradients["images"]
    tally.gradients.zero += gradients["zero"]
    tally.gradients.not_finite += gradients["not_finite"]
    noise = share["noise"]
    tally.noise.attack_wrong.update(_by_index(noise["attack_wrong"]))
    tally.noise.noise_wrong.update(_by_index(noise["noise_wrong"]))
    tally.noise.images = max(tally.noise.images, noise["images"])
    masking = share["masking"]
    _add_counts(tally.masking.checked, _by_index(masking["checked"]))
    for index, counts in _by_index(masking["zero"]).items():
        _add_counts(tally.masking.zero.setdefault(index, {}), counts)
    tally.warnings += [SanityWarning(**warning) for warning in share["warnings"]]
