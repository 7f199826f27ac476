"""Config variants: a searched choice between named sets of config values, merged per trial.

A sweep over a config group on the command line (``model=mlp,cnn``) chooses between options that
differ in several keys at once. The search space holds the chosen option's name under
:data:`VARIANT_KEY` and every option's values under :data:`VARIANTS_KEY`; a trial's config gets its
chosen option merged in (:func:`resolve_variant`) in the trainable, in the dry run's sample and for
the best config. Pure: plain dicts in, new dicts out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pytorch_hyperlight.errors import ConfigError

#: A searched choice between named variants of the config: the chosen variant's values are merged
#: into the trial's config. The command line uses it for a sweep over a config group
#: (``model=mlp,cnn``), whose options differ in several keys at once.
VARIANT_KEY = "config_variant"
#: The constant holding every variant's values by name (a dict of dicts).
VARIANTS_KEY = "config_variants"


def _merged(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = _merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def resolve_variant(config: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's config with its chosen variant merged in (a new dict; a copy without variants).

    The trial's own values win over the variant's; nested dicts are merged key by key.

    >>> resolve_variant({"lr": 0.1, "net": {"width": 8}, "config_variant": "cnn",
    ...                  "config_variants": {"mlp": {"net": {"kind": "mlp"}},
    ...                                      "cnn": {"net": {"kind": "cnn", "width": 4}}}})
    {'net': {'kind': 'cnn', 'width': 8}, 'lr': 0.1}
    """
    values = dict(config)
    if VARIANT_KEY not in values:
        return copy.deepcopy(values)
    name = values.pop(VARIANT_KEY)
    variants = values.pop(VARIANTS_KEY, None)
    if not isinstance(variants, Mapping) or name not in variants:
        known = sorted(variants) if isinstance(variants, Mapping) else []
        raise ConfigError(
            f"{VARIANT_KEY}={name!r} names no variant in {VARIANTS_KEY} (known: {known})."
        )
    return _merged(variants[name], values)
