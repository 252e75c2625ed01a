"""The adversarial-training options of ``wmbench train`` (``--adversarial``, ``--adv-*``,
``--trades-beta``, ``--atlr-*``): their combinations checked and made an
:class:`~wmbench.train.AdversarialConfig`, and the one-line description shown on stderr."""

from __future__ import annotations

from typing import Any

from wmbench.errors import ConfigError
from wmbench.models import ModelSpec, build_model
from wmbench.train import AdversarialConfig, layerwise_term

OPTIONS = {
    "eps": "--adv-eps",
    "steps": "--adv-steps",
    "alpha": "--adv-alpha",
    "beta": "--trades-beta",
    "lr_gamma": "--atlr-gamma",
    "lr_layers": "--atlr-layers",
}


def adversarial_config(
    method: str | None, settings: dict[str, Any], layerwise: dict[str, Any]
) -> AdversarialConfig | None:
    """The adversarial training asked for, None for plain training.

    Raises:
        ConfigError: a setting of adversarial training without --adversarial, --trades-beta
            without trades, --adv-steps with fgsm-rs, or a value out of range.
    """
    given = {key: value for key, value in {**settings, **layerwise}.items() if value is not None}
    if method is None:
        if given:
            raise ConfigError(f"{OPTIONS[next(iter(given))]} goes with --adversarial METHOD")
        return None
    if "beta" in given and method != "trades":
        raise ConfigError(f"--trades-beta goes with --adversarial trades, not {method}")
    if "steps" in given and method == "fgsm-rs":
        raise ConfigError("--adv-steps goes with --adversarial pgd or trades (fgsm-rs takes one)")
    if ("lr_gamma" in given) != ("lr_layers" in given):
        raise ConfigError("--atlr-gamma and --atlr-layers go together")
    return AdversarialConfig(method, **given)


def describe(attack: AdversarialConfig) -> str:
    """The settings in one line, e.g. ``pgd, eps 0.3, 10 steps of 0.075``."""
    steps = "1 step" if attack.steps == 1 else f"{attack.steps} steps"
    text = f"{attack.method}, eps {attack.eps:g}, {steps} of {attack.alpha:g}"
    if attack.beta is not None:
        text += f", beta {attack.beta:g}"
    if attack.lr_gamma:
        text += f", AT-LR gamma {attack.lr_gamma:g} on {', '.join(attack.lr_layers or [])}"
    return text


def check_layers(attack: AdversarialConfig | None, spec: ModelSpec) -> None:
    """Refuses AT-LR layers ``spec``'s model does not have, before any data is read.

    Raises:
        ModelError: a layer is not a Conv2d, WM or Linear layer of the model.
    """
    if attack is not None and attack.lr_gamma:
        layerwise_term(attack, build_model(spec))
