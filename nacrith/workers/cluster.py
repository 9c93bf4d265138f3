"""Workers on a Ray cluster: one actor per worker slot, each loading the model once, coding whole segments.

The same driver as on one machine (:class:`~nacrith.workers.local.PoolCoder`,
:class:`~nacrith.workers.local.PoolDecoder`): segments go out in order and come back in
order, so the archive is byte for byte what one process writes. Every node needs nacrith
installed (``pip install "nacrith[ray]"``), which brings the default model; a ``--model``
path must exist on every node. An actor that dies is restarted once and its segment
retried; a second failure ends the run with an error, and the CLI leaves no partial output.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from ..errors import NacrithError
from . import local

__all__ = ["RayPool"]


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise NacrithError('--ray needs Ray: pip install "nacrith[ray]"') from None
    return ray


class _Ref:
    """A Ray object reference with the two calls the pool drivers make of a future."""

    def __init__(self, ray: Any, ref: Any) -> None:
        self._ray, self._ref = ray, ref

    def result(self) -> Any:
        try:
            return self._ray.get(self._ref)
        except self._ray.exceptions.RayTaskError as exc:  # the worker's own exception, e.g. a NacrithError
            cause = exc.as_instanceof_cause()
            raise cause if isinstance(cause, NacrithError) else NacrithError(f"a Ray worker failed: {exc}") from None
        except self._ray.exceptions.RayError as exc:
            raise NacrithError(f"a Ray worker failed: {exc}") from None

    def done(self) -> bool:
        ready, _ = self._ray.wait([self._ref], timeout=0)
        return bool(ready)


class _Actor:
    """What runs in each actor: the worker functions of :mod:`.local`, with the model loaded once."""

    def __init__(self, model: str | None, threads: int, gpu: int | None, backend: str | None = None, device: str | None = None) -> None:
        local._start(model, threads, gpu, backend, device)

    def run(self, function: Callable[..., Any], *args: Any) -> Any:
        return function(*args)


class RayPool:
    """``workers`` Ray actors (default: one per CPU the cluster has, over ``threads`` each)."""

    def __init__(
        self,
        address: str,
        workers: int | None = None,
        *,
        model: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        gpu: bool = False,
        backend: str | None = None,
        device: str | None = None,
    ) -> None:
        """``address``: a Ray cluster's address, ``auto`` for the one this machine belongs to, ``local``
        to start one on this machine. ``backend``, ``device``: as :class:`~.local.WorkerPool`'s."""
        ray = self._ray = _ray()
        if not ray.is_initialized():
            ray.init(address=None if address == "local" else address, include_dashboard=False, log_to_driver=False)
        each = self.threads = threads or 1
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // each)
        self.workers = workers
        actor = ray.remote(num_cpus=each, num_gpus=1 if gpu else 0, max_restarts=1, max_task_retries=1)(_Actor)
        model_arg = os.fspath(model) if model is not None else None
        self._actors = [actor.remote(model_arg, each, 0 if gpu else None, backend, device) for _ in range(workers)]
        self._next = 0

    def _submit(self, function: Callable[..., Any], *args: Any) -> _Ref:
        actor = self._actors[self._next % self.workers]
        self._next += 1
        return _Ref(self._ray, actor.run.remote(function, *args))

    encoder = local.WorkerPool.encoder
    decoder = local.WorkerPool.decoder

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []

    def __enter__(self) -> "RayPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
