"""Execute a plan's runs through joblib: one code path for sequential, loky and dask.

Workers train and return each run's outcome (metrics, predictions, history); the parent
stores each one the moment it arrives, so a crash loses at most the runs in flight, and
only one process ever writes the results folder (the workers need no shared filesystem
for results, only read access to the data). Workers started on this machine end when
the process that started them dies (even by SIGKILL), so no orphan trains on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field, replace

import joblib
from tqdm.auto import tqdm

from .models import expected_cost
from .plan import Plan, RunSpec
from .store import Store
from .train import run as run_one

# Idle OpenMP threads sleep instead of spinning: with spinning, a run given more threads than
# there are free cores slows down by 10-40x on a loaded machine (benchmarks/bench_load.py).
# OpenMP reads it once, when torch loads: the CLI sets it before that, and every worker
# process started here inherits it. A value the user set wins.
WORKER_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}
PARENT_POLL_SECONDS = 1.0


@dataclass
class Summary:
    planned: int
    skipped: int = 0  # already done before this invocation
    ok: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run_id, reason)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _work(spec: RunSpec, parent: int):
    """Runs in a worker: one training; never raises for a run's own failure."""
    watch_parent(parent)
    if spec.device.startswith("cuda"):
        # cuBLAS picks deterministic kernels only with a fixed workspace (set before CUDA
        # initialises); cuDNN's GRU may still differ run to run (see README).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return spec, run_one(spec)


# --- workers end with the process that started them ---------------------------------------

_WATCHED: set[int] = set()


def watch_parent(parent: int, interval: float = PARENT_POLL_SECONDS) -> bool:
    """In a worker process started by `parent`: end this process when `parent` dies.

    Only a direct child is watched (loky and dask LocalCluster workers are): a remote dask
    worker, or the parent itself (sequential backend), is left alone. Returns whether a
    watcher runs. A daemon thread polls os.getppid(): the kernel re-parents a process the
    moment its parent exits, whatever killed it (Linux, macOS; not Windows).
    """
    if parent == os.getpid() or os.getppid() != parent:
        return False
    if parent not in _WATCHED:
        _WATCHED.add(parent)
        threading.Thread(target=exit_when_orphaned, args=(parent, interval),
                         name="harness-parent-watch", daemon=True).start()
    return True


def exit_when_orphaned(parent: int, interval: float, exit=os._exit, sleep=time.sleep) -> None:
    """Return only by calling exit(1), once this process' parent is no longer `parent`."""
    while os.getppid() == parent:
        sleep(interval)
    # os._exit: no cleanup handlers, which may wait on the dead parent; the run in flight
    # is lost either way and is redone by the next run-study.
    exit(1)


# --- where the runs execute ---------------------------------------------------------------


def parallelism(plan: Plan) -> tuple[str, int]:
    """(backend, runs at once): `auto` is loky when more than one run goes at once."""
    ex = plan.study.execution
    jobs = ex.jobs
    if ex.backend in ("auto", "loky") and ex.device in ("cuda", "auto") and _has_cuda():
        import torch

        # on GPUs the parallelism is runs_per_gpu per visible GPU (README)
        jobs = torch.cuda.device_count() * ex.runs_per_gpu
    backend = ex.backend
    if backend == "auto":
        backend = "loky" if jobs > 1 else "sequential"
    return backend, jobs


def resolve_specs(plan: Plan, device: str) -> list[RunSpec]:
    """Attach device and threads to each spec (neither changes its run id)."""
    threads = plan.study.execution.threads_per_job or 1
    specs = []
    n_gpus = 0
    if device in ("auto", "cuda"):
        import torch

        n_gpus = torch.cuda.device_count()
    for i, spec in enumerate(plan.runs):
        dev = "cpu" if device == "cpu" or n_gpus == 0 else f"cuda:{i % n_gpus}"
        if device == "cuda" and n_gpus == 0:
            dev = "cuda"  # fails per run with a clear reason
        specs.append(replace(spec, device=dev, threads=threads))
    return specs


@contextlib.contextmanager
def backend_context(plan: Plan):
    """joblib configured for the study (inside whatever cluster it asks for); yields n_jobs."""
    for key, value in WORKER_ENV.items():
        os.environ.setdefault(key, value)  # inherited by every worker started from here on
    threads = plan.study.execution.threads_per_job or 1
    backend, jobs = parallelism(plan)
    if backend == "sequential":
        with joblib.parallel_config(backend="sequential"):
            yield 1
        return
    if backend == "loky":
        # inner_max_num_threads: OMP/MKL/OpenBLAS thread variables of each worker;
        # the initializer starts the parent watch as each worker starts, before any task.
        with joblib.parallel_config(backend="loky", inner_max_num_threads=threads,
                                    initializer=watch_parent, initargs=(os.getpid(),)):
            yield jobs
        return
    with _dask_client(plan, threads):
        with joblib.parallel_config(backend="dask", wait_for_workers_timeout=600):
            yield -1


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@contextlib.contextmanager
def _dask_client(plan: Plan, threads: int):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        from .errors import UserError

        raise UserError("execution.backend is 'dask' but dask.distributed is not installed: "
                        "pip install 'harness[cluster]'.") from None
    ex = plan.study.execution
    c = ex.cluster
    if c.kind == "address":
        with Client(c.address) as client:
            yield client
        return
    env = {**WORKER_ENV, **{k: os.environ[k] for k in WORKER_ENV if k in os.environ},
           "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    if c.kind == "slurm":
        from dask_jobqueue import SLURMCluster

        cluster = SLURMCluster(
            cores=c.cores, processes=1, memory=c.memory, walltime=c.walltime, queue=c.queue,
            account=c.account, job_extra_directives=list(c.job_extra_directives),
            worker_extra_args=["--nthreads", str(c.threads_per_worker)], job_script_prologue=[
                f"export {k}={v}" for k, v in env.items()],
        )
        cluster.scale(jobs=c.workers or ex.jobs)
    else:
        cluster = LocalCluster(n_workers=c.workers or ex.jobs, threads_per_worker=c.threads_per_worker,
                               processes=True, dashboard_address=None, env=env)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


# --- the loop -------------------------------------------------------------------------------


def execute(plan: Plan, store: Store, *, force: bool = False, quiet: bool = False,
            progress_stream=None) -> Summary:
    """Train every planned run that is not done (all with force); store each as it ends."""
    ex = plan.study.execution
    specs = resolve_specs(plan, ex.device)
    todo = [s for s in specs if force or not store.done(s)]  # a disagreeing folder is redone
    # Longest runs first, so the last workers do not idle while one long run finishes.
    todo.sort(key=_expected_cost, reverse=True)
    summary = Summary(planned=len(specs), skipped=len(specs) - len(todo))
    plan_ids = [s.run_id for s in specs]
    t0 = time.perf_counter()
    # No bar at all when nothing is left (an empty bar prints a '0 run' line twice).
    bar = tqdm(total=len(todo), disable=quiet or not todo, unit="run", desc=plan.study.name,
               file=progress_stream, dynamic_ncols=True)
    keeper = _Keeper(store, plan_ids, summary, bar)
    try:
        if todo:
            with backend_context(plan) as n_jobs:
                for attempt in range(ex.retries + 1):
                    todo = _attempt(todo, n_jobs, keeper, last=attempt == ex.retries)
                    if not todo:
                        break
    finally:
        bar.close()
        store.write_runs_table(plan_ids)
        summary.seconds = time.perf_counter() - t0
    return summary


@dataclass
class _Keeper:
    """Stores each outcome as it arrives and keeps the tally, the bar and runs.csv current."""

    store: Store
    plan_ids: list[str]
    summary: Summary
    bar: object
    since_table: int = 0

    def keep(self, spec: RunSpec, outcome, last: bool) -> bool:
        """Store (if ok or last attempt); returns whether the run needs another attempt."""
        if outcome.ok or last:
            self.store.save(spec.to_dict(), outcome)
            self.since_table += 1
        if outcome.ok:
            self.summary.ok += 1
        elif last:
            self.summary.failed.append((spec.run_id, outcome.result.get("error", "")))
        else:
            return True
        self.bar.update(1)
        self.bar.set_postfix(failed=len(self.summary.failed), refresh=False)
        if self.since_table >= 25:  # keep runs.csv roughly current for onlookers
            self.store.write_runs_table(self.plan_ids)
            self.since_table = 0
        return False

    def lost(self, spec: RunSpec, reason: str) -> None:
        _store_lost(self.store, spec, reason)
        self.summary.failed.append((spec.run_id, reason))
        self.bar.update(1)


def _attempt(todo: list[RunSpec], n_jobs: int, keeper: _Keeper, last: bool) -> list[RunSpec]:
    """One pass over `todo`; returns the runs to try again."""
    seen: set[str] = set()
    again: list[RunSpec] = []
    try:
        # batch_size=1: every run is its own task, stored the moment it ends
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)
        parent = os.getpid()
        for spec, outcome in parallel(joblib.delayed(_work)(s, parent) for s in todo):
            seen.add(spec.run_id)
            if keeper.keep(spec, outcome, last):
                again.append(spec)
    except Exception as exc:  # a lost worker or pool: the runs in flight are lost
        reason = f"worker lost: {type(exc).__name__}: {exc}"
        lost = [s for s in todo if s.run_id not in seen]
        if last:
            for spec in lost:
                keeper.lost(spec, reason)
        again.extend(lost)
    return [] if last else again


def _expected_cost(spec: RunSpec) -> float:
    """Rough relative cost of a run, from the model registry (harness.models.registry)."""
    return expected_cost(spec.model, spec.modalities)


def _store_lost(store: Store, spec: RunSpec, reason: str) -> None:
    from . import __version__
    from .train import RunOutcome

    result = {"run_id": spec.run_id, "model": spec.model, "modalities": spec.modalities,
              "fold": spec.fold, "seed": spec.seed, "status": "failed", "error": reason,
              "device": spec.device, "harness_version": __version__}
    store.save(spec.to_dict(), RunOutcome(result=result))
