"""The search's pre-flight: where Ray runs, whether a trial fits, how many run at once, the cluster.

Two steps, each done once per search, whose answers are frozen objects the search reads afterwards:

1. :func:`plan_ray`, before the dry run and before Ray starts: the Ray address resolved (the
   setting, else ``$RAY_ADDRESS``) and, when one is given, found listening within seconds (no
   multi-minute hang in ``ray.init``); for a local Ray that the library starts (or started and kept),
   whether one trial's CPUs and GPUs fit this machine. Gives a :class:`RayPlan`.
2. :func:`ray_preflight`, once Ray is up (:func:`~pytorch_hyperlight.search.ray_session.ray_session`,
   asked to keep a local Ray for the next search): on a cluster or a Ray the user started, whether a
   trial fits (unless step 1 checked it), the cluster checks
   (:func:`~pytorch_hyperlight.search.cluster.check_cluster`: every node loads the code and shares
   the storage), and the number of trials run at once. Gives a :class:`SearchPreflight`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytorch_hyperlight.search.ray_session import RaySessionInfo, RayTarget
from pytorch_hyperlight.settings import Settings

if TYPE_CHECKING:
    from pytorch_hyperlight.search.checks import SearchPlan


@dataclass(frozen=True)
class RayPlan:
    """What is known about Ray before it starts.

    Attributes:
        target: the resolved address (found listening), or a local Ray.
        trial_fits_checked: True when one trial was found to fit the local Ray the search uses
            (this machine's CPUs and GPUs); False: checked against the cluster once connected.
    """

    target: RayTarget
    trial_fits_checked: bool


@dataclass(frozen=True)
class SearchPreflight:
    """What the search runs on, established once Ray is up.

    Attributes:
        target: where the search runs (from :class:`RayPlan`).
        session: the Ray session (cluster address, node resources, started or reused here).
        concurrency: trials run at once.
    """

    target: RayTarget
    session: RaySessionInfo
    concurrency: int


def plan_ray(settings: Settings) -> RayPlan:
    """Resolve the Ray address once and, for a local Ray, check that one trial fits this machine.

    Raises:
        ConfigError: a malformed address, or a trial needs more CPUs/GPUs than this machine has.
        RayConnectionError: nothing listens at the address.
    """
    from pytorch_hyperlight.search import ray_session
    from pytorch_hyperlight.search.tuner import check_trial_fits

    target = ray_session.resolve_target(settings.ray_address)
    import ray

    # A Ray the user started may be any size: it is checked once connected.
    local_start = target.is_local and (
        not ray.is_initialized() or ray_session.library_ray_running()
    )
    if local_start:
        check_trial_fits(
            settings.cpu_per_trial, settings.gpu_per_trial, [ray_session.local_resources()]
        )
    return RayPlan(target=target, trial_fits_checked=local_start)


@contextmanager
def ray_preflight(plan: SearchPlan, run_dir: Path, *, payload: Any) -> Iterator[SearchPreflight]:
    """Ray up for the search (a local one kept for the next search), checked before trial 1.

    Args:
        plan: the search's plan: its :class:`RayPlan`, number of trials and settings (resources
            per trial, concurrency, verbosity).
        run_dir: the run directory the trials write into (shared storage on a cluster).
        payload: what the trials unpickle (spec, constants, callbacks), loaded on every node.

    Raises:
        RayConnectionError: the cluster went away since :func:`plan_ray`.
        ConfigError: a trial fits no node; a node cannot load the code or share the storage.
    """
    from pytorch_hyperlight.search import ray_session
    from pytorch_hyperlight.search.cluster import check_cluster
    from pytorch_hyperlight.search.tuner import check_trial_fits, concurrency_limit

    target, settings = plan.ray.target, plan.settings
    with ray_session.ray_session(target, verbose=settings.verbose, keep=True) as session:
        resources = session.node_resources
        if not plan.ray.trial_fits_checked:
            check_trial_fits(settings.cpu_per_trial, settings.gpu_per_trial, resources)
        check_cluster(payload, run_dir, skip=session.address == "local")
        concurrency = concurrency_limit(
            settings.cpu_per_trial,
            settings.gpu_per_trial,
            resources,
            plan.n_trials,
            settings.max_concurrent_trials,
        )
        yield SearchPreflight(target=target, session=session, concurrency=concurrency)
