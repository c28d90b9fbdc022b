"""Execute a plan's runs through joblib: one code path for sequential, loky and dask.

Workers train and return each run's outcome (metrics, predictions, history); the parent
stores each one the moment it arrives, so a crash loses at most the runs in flight, and
only one process ever writes the results folder (the workers need no shared filesystem
for results, only read access to the data).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field, replace

import joblib
from tqdm.auto import tqdm

from .models import attention_pairs
from .plan import Plan, RunSpec, default_threads
from .store import Store
from .train import run as run_one


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


def _work(spec: RunSpec):
    """Runs in a worker: one training; never raises for a run's own failure."""
    if spec.device.startswith("cuda"):
        # cuBLAS picks deterministic kernels only with a fixed workspace (set before CUDA
        # initialises); cuDNN's GRU may still differ run to run (see README).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    return spec, run_one(spec)


def resolve_specs(plan: Plan, device: str) -> list[RunSpec]:
    """Attach device and threads to each spec (neither changes its run id)."""
    ex = plan.study.execution
    threads = ex.threads_per_job or default_threads(ex.jobs if ex.backend != "sequential" else 1)
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
    """(joblib backend name, n_jobs) inside whatever cluster the study asks for."""
    ex = plan.study.execution
    if ex.backend == "sequential":
        yield "sequential", 1
        return
    if ex.backend == "loky":
        jobs = ex.jobs
        if ex.device in ("cuda", "auto") and _has_cuda():
            import torch

            # on GPUs the parallelism is runs_per_gpu per visible GPU (README)
            jobs = torch.cuda.device_count() * ex.runs_per_gpu
        yield "loky", jobs
        return
    with _dask_client(plan) as client:
        with joblib.parallel_config(backend="dask", wait_for_workers_timeout=600):
            yield "dask", -1


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@contextlib.contextmanager
def _dask_client(plan: Plan):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        from .errors import UserError

        raise UserError("execution.backend is 'dask' but dask.distributed is not installed: "
                        "pip install 'harness[cluster]'.") from None
    ex = plan.study.execution
    c = ex.cluster
    threads = ex.threads_per_job or 1
    if c.kind == "address":
        with Client(c.address) as client:
            yield client
        return
    if c.kind == "slurm":
        from dask_jobqueue import SLURMCluster

        cluster = SLURMCluster(
            cores=c.cores, processes=1, memory=c.memory, walltime=c.walltime, queue=c.queue,
            account=c.account, job_extra_directives=list(c.job_extra_directives),
            worker_extra_args=["--nthreads", "1"],
        )
        cluster.scale(jobs=c.workers or ex.jobs)
    else:
        cluster = LocalCluster(n_workers=c.workers or ex.jobs, threads_per_worker=1,
                               processes=True, dashboard_address=None,
                               env={"OMP_NUM_THREADS": str(threads)})
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


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
    bar = tqdm(total=len(todo), disable=quiet, unit="run", desc=plan.study.name,
               file=progress_stream, dynamic_ncols=True)
    since_table = 0
    try:
        with backend_context(plan) as (backend, n_jobs):
            for attempt in range(ex.retries + 1):
                if not todo:
                    break
                stored: set[str] = set()
                failed: list[RunSpec] = []
                last = attempt == ex.retries
                try:
                    # batch_size=1: every run is its own task, stored the moment it ends
                    parallel = joblib.Parallel(n_jobs=n_jobs, backend=None if backend == "dask" else backend,
                                               return_as="generator_unordered", batch_size=1)
                    for spec, outcome in parallel(joblib.delayed(_work)(s) for s in todo):
                        if outcome.ok or last:
                            store.save(spec.to_dict(), outcome)
                            since_table += 1
                        stored.add(spec.run_id)
                        if outcome.ok:
                            summary.ok += 1
                            bar.update(1)
                        elif last:
                            summary.failed.append((spec.run_id, outcome.result.get("error", "")))
                            bar.update(1)
                        else:
                            failed.append(spec)
                        bar.set_postfix(failed=len(summary.failed), refresh=False)
                        if since_table >= 25:  # keep runs.csv roughly current for onlookers
                            store.write_runs_table(plan_ids)
                            since_table = 0
                except Exception as exc:  # a lost worker or pool: the runs in flight are lost
                    lost = [s for s in todo if s.run_id not in stored]
                    reason = f"worker lost: {type(exc).__name__}: {exc}"
                    if last:
                        for spec in lost:
                            _store_lost(store, spec, reason)
                            summary.failed.append((spec.run_id, reason))
                            bar.update(1)
                    failed.extend(lost)
                todo = failed
    finally:
        bar.close()
        store.write_runs_table(plan_ids)
        summary.seconds = time.perf_counter() - t0
    return summary


def _expected_cost(spec: RunSpec) -> int:
    """Rough relative cost of a run: audio's long sequences dominate, then text, then video;
    each attention block costs about as much as its query modality's sequence."""
    weight = {"A": 4, "T": 2, "V": 1}
    return sum(weight[q] for q, _ in attention_pairs(spec.model, spec.modalities)) + \
        sum(weight[m] for m in spec.modalities)


def _store_lost(store: Store, spec: RunSpec, reason: str) -> None:
    from . import __version__
    from .train import RunOutcome

    result = {"run_id": spec.run_id, "model": spec.model, "modalities": spec.modalities,
              "fold": spec.fold, "seed": spec.seed, "status": "failed", "error": reason,
              "device": spec.device, "harness_version": __version__}
    store.save(spec.to_dict(), RunOutcome(result=result))
