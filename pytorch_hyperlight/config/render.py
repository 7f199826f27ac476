"""Text the command line prints: a config as YAML with the framework settings explained, a search
space as a table, and the ``--help`` sections (config groups, config, framework settings).

Pure functions of plain data; nothing here imports Hydra.

Example:
    >>> print(framework_settings_table(["hyperlight.seed"]))
    hyperlight.seed  null  Seed for torch, numpy, random and the searcher; also turns on deterministic mode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pytorch_hyperlight.config.schema import HYPERLIGHT, framework_descriptions
from pytorch_hyperlight.results.config_record import to_yaml


def _scalar(value: Any) -> str:
    text = to_yaml(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def config_yaml(config: Mapping[str, Any]) -> str:
    """The config as YAML; each ``hyperlight`` key is followed by its description as a comment."""
    from pytorch_hyperlight.config.compose import in_root_order

    descriptions = framework_descriptions()
    lines: list[str] = []
    for key, value in in_root_order(config).items():
        if key == HYPERLIGHT and isinstance(value, Mapping):
            lines.append(f"{key}:")
            entries = [
                (f"  {name}: {_scalar(item)}", f"{key}.{name}") for name, item in value.items()
            ]
            width = max((len(text) for text, _ in entries), default=0)
            for text, full_key in entries:
                help_text = descriptions.get(full_key, (None, ""))[1]
                lines.append(f"{text.ljust(width)}  # {help_text}" if help_text else text)
            continue
        dumped = to_yaml({key: value})
        lines.extend(dumped.rstrip("\n").splitlines())
    return "\n".join(lines)


def framework_settings_table(keys: Iterable[str] | None = None) -> str:
    """Every framework setting (or ``keys``): name, default, one-line description."""
    descriptions = framework_descriptions()
    rows = [
        (key, _scalar(descriptions[key][0]), descriptions[key][1]) for key in keys or descriptions
    ]
    name_width = max(len(row[0]) for row in rows)
    default_width = max(len(row[1]) for row in rows)
    return "\n".join(
        f"{name.ljust(name_width)}  {default.ljust(default_width)}  {text}"
        for name, default, text in rows
    )


def _domain_text(description: Mapping[str, Any]) -> str:
    kind = description["type"]
    if kind in ("choice", "grid"):
        values = description.get("categories", description.get("values"))
        return f"{kind} {values}"
    bounds = [f"{k}={description[k]}" for k in ("lower", "upper", "q") if k in description]
    return f"{kind}({', '.join(bounds)})"


def search_table(
    sweeps: Mapping[str, str], searched: Mapping[str, tuple[str, ...]], described: Mapping[str, Any]
) -> str:
    """One line per sweep: config key, as written, the Ray Tune domain it became.

    >>> print(search_table({"model.lr": "interval(0, 1)"}, {"model.lr": ("lr",)},
    ...                    {"lr": {"type": "uniform", "lower": 0.0, "upper": 1.0}}))
    model.lr  interval(0, 1)  -> uniform(lower=0.0, upper=1.0)
    """
    rows = []
    for key, text in sweeps.items():
        path = searched.get(key)
        name = "/".join(path) if path else "config_variant"
        domain = described.get(name)
        rows.append((key, text, _domain_text(domain) if domain else "config-group options"))
    key_width = max(len(row[0]) for row in rows)
    text_width = max(len(row[1]) for row in rows)
    return "\n".join(
        f"{key.ljust(key_width)}  {text.ljust(text_width)}  -> {domain}"
        for key, text, domain in rows
    )


def groups_section(groups: Mapping[str, Iterable[str]]) -> str:
    """Hydra's ``== Configuration groups ==`` section."""
    lines = [
        "== Configuration groups ==",
        "Compose your configuration from those groups (group=option)",
        "",
    ]
    lines += [f"{group}: {', '.join(options)}" for group, options in sorted(groups.items())]
    return "\n".join(lines)
