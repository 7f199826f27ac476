"""The command line's three commands: ``run``, ``tune`` and ``show`` (see :mod:`pytorch_hyperlight.cli`).

Each plans every job first, inside one Hydra session (so every bad input is found before any
training), closes the session, then runs the jobs one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytorch_hyperlight.config import compose as composing
from pytorch_hyperlight.config import jobs
from pytorch_hyperlight.config.render import config_yaml, search_table
from pytorch_hyperlight.errors import ConfigError
from pytorch_hyperlight.results.config_record import CONFIG_FILE


def config_directory(arguments: Any) -> Path:
    """``--config-dir``, else ``./conf`` when it exists.

    Raises:
        ConfigError: neither is there.
    """
    if arguments.config_dir is not None:
        return Path(arguments.config_dir)
    if Path("conf").is_dir():
        return Path("conf")
    raise ConfigError(
        "No config directory: pass --config-dir DIR (the folder with config.yaml and the config "
        "groups); ./conf does not exist."
    )


def _source(arguments: Any, config_dir: Path, command: Sequence[str]) -> jobs.Source:
    return jobs.Source(config_dir, arguments.config_name, tuple(command))


def _job_overrides(arguments: Any) -> list[list[str]]:
    if arguments.multirun:
        return jobs.expand_multirun(arguments.overrides)
    return [list(arguments.overrides)]


def _announce(job_overrides: Sequence[Sequence[str]], multirun: bool) -> None:
    if multirun:
        print(f"[hyperlight] Launching {len(job_overrides)} jobs", flush=True)


def _job_header(index: int, overrides: Sequence[str], multirun: bool) -> None:
    if multirun:
        print(f"[hyperlight] \t#{index} : {' '.join(overrides)}", flush=True)


def _summary(rows: Sequence[tuple[Sequence[str], float, Any]], metric: str) -> None:
    print(f"[hyperlight] {len(rows)} jobs done ({metric}, run directory):")
    for index, (overrides, value, run_dir) in enumerate(rows):
        print(f"  #{index} {' '.join(overrides)}: {value:.6g}  {run_dir}")


def run(arguments: Any, command: Sequence[str]) -> int:
    """``hyperlight run``: one trial per job, each re-validated and tested."""
    with composing.config_dir_session(config_directory(arguments)) as config_dir:
        source = _source(arguments, config_dir, command)
        job_overrides = _job_overrides(arguments)
        plans = [jobs.plan_run(overrides, source) for overrides in job_overrides]
    _announce(job_overrides, arguments.multirun)
    rows = []
    for index, (overrides, (job, record)) in enumerate(zip(job_overrides, plans)):
        _job_header(index, overrides, arguments.multirun)
        if job.search_params:
            print(
                f"note: run ignores search.params ({len(job.search_params)} keys); "
                "`hyperlight tune` searches them."
            )
        result = jobs.execute_run(job, record)
        run_dir = result["run_dir"]
        print(
            f"config saved: {run_dir / CONFIG_FILE} (re-run: hyperlight run --config-dir {run_dir})"
        )
        rows.append((overrides, jobs.best_value(result), run_dir))
    if arguments.multirun:
        _summary(rows, plans[0][0].settings.metric_to_optimize)
    return 0


def tune(arguments: Any, command: Sequence[str]) -> int:
    """``hyperlight tune``: one search per job; the best trial re-validated and tested."""
    with composing.config_dir_session(config_directory(arguments)) as config_dir:
        source = _source(arguments, config_dir, command)
        job_overrides = _job_overrides(arguments)
        plans = [
            jobs.plan_search(overrides, source, outer_loop=arguments.multirun)
            for overrides in job_overrides
        ]
    _announce(job_overrides, arguments.multirun)
    rows = []
    for index, (overrides, (search, record)) in enumerate(zip(job_overrides, plans)):
        _job_header(index, overrides, arguments.multirun)
        result = jobs.execute_search(search, record)
        run_dir = result["run_dir"]
        print(
            f"config saved: {run_dir / CONFIG_FILE}; each trial's own in "
            f"{run_dir}/tune/trial_<id>/{CONFIG_FILE}"
        )
        rows.append((overrides, jobs.best_value(result), run_dir))
    if arguments.multirun:
        _summary(rows, plans[0][0].job.settings.metric_to_optimize)
    return 0


def show(arguments: Any, command: Sequence[str]) -> int:
    """``hyperlight show``: the resolved config and, with sweeps, the parsed search space."""
    with composing.config_dir_session(config_directory(arguments)) as config_dir:
        source = _source(arguments, config_dir, command)
        job_overrides = _job_overrides(arguments)
        if arguments.multirun:
            print(f"--multirun: {len(job_overrides)} jobs; the first one's config follows.")
            for index, overrides in enumerate(job_overrides):
                print(f"  #{index} : {' '.join(overrides)}")
            print()
        overrides = job_overrides[0]
        if _searches(overrides, source, arguments.multirun):
            search, _ = jobs.plan_search(overrides, source, outer_loop=arguments.multirun)
            print(config_yaml(search.config))
            print()
            print(_search_text(search))
        else:
            _, record = jobs.plan_run(overrides, source)
            print(config_yaml(record.config))
    return 0


def _searches(overrides: Sequence[str], source: jobs.Source, multirun: bool) -> bool:
    from pytorch_hyperlight.config._hydra import config_groups
    from pytorch_hyperlight.config.schema import job_from_config

    sorted_overrides = jobs.sort_overrides(overrides, config_groups())
    if sorted_overrides.has_sweeps and not multirun:
        return True
    config = composing.resolve(composing.compose(source.config_name, sorted_overrides.plain))
    return bool(job_from_config(config).search_params)


def _search_text(search: Any) -> str:
    from pytorch_hyperlight.search.space import describe_search_space, prepare_search_space

    settings = search.job.settings
    prepared = prepare_search_space(search.search_space, settings.searcher)
    n_trials = prepared.n_trials(settings.n_samples)
    grid = f" x {prepared.n_grid_points} grid points" if prepared.n_grid_points > 1 else ""
    lines = [
        f"Search space (`hyperlight tune` runs {n_trials} trials: n_samples={settings.n_samples}"
        f"{grid}; searcher={settings.searcher}, scheduler={settings.scheduler}):",
        search_table(search.sweeps, search.searched, describe_search_space(search.search_space)),
    ]
    lines += [f"note: {note}" for note in prepared.notes]
    return "\n".join(lines)
