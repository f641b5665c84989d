"""Data-parallel training under ``torchrun`` or ``srun``: the launcher, the gradient all-reduce, the shards.

One process per device; every process (a *rank*) holds a full copy of G and D, takes its share
of each global batch, and the ranks average their gradients before every optimizer step, so
all copies stay identical. Nothing here starts processes: PyTorch's ``torchrun`` (or SLURM's
``srun``) does, and :func:`init_distributed` reads what they put in the environment.

**Why an explicit all-reduce, not ``DistributedDataParallel``** (the choice StyleGAN3 made,
NVlabs/stylegan3 ``training/training_loop.py``):

* *double backward*: WGAN-GP's penalty and R1/R2 differentiate a gradient
  (``create_graph=True``). DDP's reducer hooks fire during that inner ``autograd.grad`` as well,
  which is unsupported and errors or silently averages the wrong thing (pytorch#47562, #63812);
* *two models stepping in turn*: D's step, then G's step through a frozen D. Wrapped models need
  ``no_sync`` juggling (StyleGAN2-ADA) or ``find_unused_parameters=True`` (Lightning's GAN
  example, issues #20328, #20685), which costs an extra graph walk per step;
* *unused parameters*: a phase that does not touch some parameters simply has ``grad is None``
  here; it is agreed across ranks in the same all-reduce (see :func:`sync_gradients`).

The price is one blocking all-reduce per phase, not overlapped with the backward pass as DDP's
buckets are; for the models of this project the compute per step is small either way (see
``docs/benchmarks.md``, "More than one device").

**Global batch.** ``train.batch_size`` stays the *global* batch B. Every rank draws the same
permutation from the same seeded generator and takes a contiguous slice of each global batch
(:func:`shard_bounds`). A loss that is a mean over the rank's n_r samples has the gradient
``g_r``; the global-batch mean's gradient is ``Σ_r (n_r / B) g_r`` — so each rank scales its
gradients by ``n_r / B`` before an all-reduce SUM. That is exact also for a short last batch
whose shards differ in size, where dividing by the world size would not be.
"""

from __future__ import annotations

import datetime
import os
import signal
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import torch
import torch.distributed as dist

from ..errors import ConfigError, DistributedError

DEFAULT_TIMEOUT_S = 300  # a rank that waits this long at a collective gives up with DistributedError
SLURM_PORT_BASE = 20000  # MASTER_PORT under SLURM when unset: base + job id mod 10000 (two jobs, one node)


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the job. The default is one process: world size 1, no group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # "nccl" (CUDA) or "gloo" (CPU); None without a process group
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    launcher: str = "none"  # "torchrun", "slurm" or "none"
    cpu_group: Any = None  # a gloo group for host-side flags under NCCL (None: the default group)

    @property
    def is_main(self) -> bool:
        """Rank 0: the only one that writes the run folder and prints progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """True when there is more than one rank (collectives are needed)."""
        return self.world_size > 1


@dataclass(frozen=True)
class LaunchEnvironment:
    """What the launcher told this process: its rank, the world, and where rank 0 listens."""

    launcher: str
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def _int(environ: Mapping[str, str], name: str) -> int:
    try:
        return int(environ[name])
    except ValueError:
        raise ConfigError(f"environment variable {name}={environ[name]!r} is not an integer") from None


def detect_launcher(environ: Mapping[str, str] | None = None) -> LaunchEnvironment | None:
    """The launcher's variables, or None when this is a single process.

    * torchrun: ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``;
    * srun: ``SLURM_PROCID``, ``SLURM_STEP_NUM_TASKS`` (set per ``srun`` step, so a plain
      ``python`` inside an ``sbatch --ntasks=4`` script stays one process), ``SLURM_LOCALID``,
      and ``MASTER_ADDR`` (the first node of the job: see README); ``MASTER_PORT`` defaults to
      ``20000 + job id mod 10000``.

    torchrun's variables win when both are present (torchrun started inside an allocation).
    """
    environ = os.environ if environ is None else environ
    if "RANK" in environ and "WORLD_SIZE" in environ:
        world = _int(environ, "WORLD_SIZE")
        if world <= 1:
            return None
        return LaunchEnvironment("torchrun", _int(environ, "RANK"), world,
                                 _int(environ, "LOCAL_RANK") if "LOCAL_RANK" in environ else 0,
                                 environ.get("MASTER_ADDR", "127.0.0.1"),
                                 _int(environ, "MASTER_PORT") if "MASTER_PORT" in environ else 29500)
    if "SLURM_PROCID" in environ and "SLURM_STEP_NUM_TASKS" in environ:
        world = _int(environ, "SLURM_STEP_NUM_TASKS")
        if world <= 1:
            return None
        if "MASTER_ADDR" not in environ:
            raise ConfigError("running under srun with several tasks but MASTER_ADDR is not set; add "
                              "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n1) "
                              "to the job script")
        port = (_int(environ, "MASTER_PORT") if "MASTER_PORT" in environ
                else SLURM_PORT_BASE + _int(environ, "SLURM_JOB_ID") % 10000 if "SLURM_JOB_ID" in environ
                else 29500)
        return LaunchEnvironment("slurm", _int(environ, "SLURM_PROCID"), world,
                                 _int(environ, "SLURM_LOCALID") if "SLURM_LOCALID" in environ else 0,
                                 environ["MASTER_ADDR"], port)
    return None


def init_distributed(device: str = "auto", *, timeout_s: float = DEFAULT_TIMEOUT_S,
                     environ: Mapping[str, str] | None = None) -> DistributedContext:
    """Join the launcher's process group (NCCL on CUDA, gloo on CPU), or return the one-process context.

    ``device``: ``train.device`` ("auto", "cpu", "cuda"). With CUDA each rank uses
    ``cuda:LOCAL_RANK``. ``timeout_s`` bounds every collective, so a rank whose peer died or hangs
    fails with :class:`DistributedError` instead of waiting forever.
    """
    launch = detect_launcher(environ)
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if launch is None:
        return DistributedContext(device=torch.device("cuda" if use_cuda else "cpu"))
    if dist.is_initialized():
        raise DistributedError("a torch.distributed process group already exists in this process")
    if use_cuda:
        if not torch.cuda.is_available():
            raise ConfigError("train.device='cuda' but no CUDA device is available; use auto or cpu")
        visible = torch.cuda.device_count()
        index = 0 if visible == 1 else launch.local_rank  # one GPU per task (srun --gpus-per-task=1)
        if index >= visible:
            raise ConfigError(f"local rank {launch.local_rank} but only {visible} CUDA devices visible "
                              f"on this node: start at most that many processes per node")
        torch.cuda.set_device(index)
        target, backend = torch.device("cuda", index), "nccl"
    else:
        target, backend = torch.device("cpu"), "gloo"
    store_url = f"tcp://{launch.master_addr}:{launch.master_port}"
    try:
        dist.init_process_group(backend, init_method=store_url, rank=launch.rank,
                                world_size=launch.world_size,
                                timeout=datetime.timedelta(seconds=timeout_s),
                                **({"device_id": target} if backend == "nccl" else {}))
    except (RuntimeError, ValueError) as error:
        raise DistributedError(f"rank {launch.rank} of {launch.world_size} could not join the process "
                               f"group at {store_url} ({_first_line(error)})") from None
    # Host-side flags (the stop agreement) go through gloo even under NCCL: no device sync.
    cpu_group = dist.new_group(backend="gloo") if backend == "nccl" else None
    return DistributedContext(launch.rank, launch.world_size, launch.local_rank, backend, target,
                              launch.launcher, cpu_group)


def shutdown(context: DistributedContext) -> None:
    """Leave the process group (no-op for one process)."""
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _collective(context: DistributedContext, what: str, function, *args, **kwargs):
    """Run one collective; a dead or hung peer becomes one clear :class:`DistributedError`."""
    try:
        return function(*args, **kwargs)
    except RuntimeError as error:  # gloo/NCCL: "Connection closed by peer", timeouts (DistBackendError)
        raise DistributedError(
            f"rank {context.rank} of {context.world_size}: {what} failed, another rank has probably died "
            f"or stopped answering ({_first_line(error)}); the last checkpoint in the run folder stays "
            f"loadable: resume from it") from None


def all_reduce_(tensor: torch.Tensor, context: DistributedContext, op=None, *,
                what: str = "all-reduce", group: Any = None) -> torch.Tensor:
    """In-place all-reduce (SUM by default) over the ranks; identity for one process."""
    if context.enabled:
        _collective(context, what, dist.all_reduce, tensor, op=op or dist.ReduceOp.SUM, group=group)
    return tensor


def broadcast_parameters(modules: Iterable[torch.nn.Module], context: DistributedContext) -> None:
    """Copy rank 0's parameters and buffers to every rank (StyleGAN3 does this once at start).

    Every rank builds its models from the same seed, so this only matters when initialisation
    differs between ranks (another PyTorch build or device kind on some nodes): the copies then
    start identical anyway.
    """
    if not context.enabled:
        return
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            with torch.no_grad():
                _collective(context, "broadcasting the initial weights", dist.broadcast, tensor, src=0)


def shard_bounds(count: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[start, stop)`` of this rank's contiguous share of ``count`` samples (sizes differ by ≤ 1).

    Rank r gets ``[⌊r·count/W⌋, ⌊(r+1)·count/W⌋)``: the shares tile the batch in rank order, so
    concatenating them gives back the global batch, and n_r ∈ {⌊count/W⌋, ⌈count/W⌉}.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside a world of {world_size}")
    return rank * count // world_size, (rank + 1) * count // world_size


def sync_gradients(parameters: Iterable[torch.nn.Parameter], context: DistributedContext, *,
                   weight: float | None = None) -> None:
    """Average the gradients of ``parameters`` over the ranks, in one all-reduce.

    ``g ← Σ_r w_r g_r`` with ``w_r = weight`` given by each rank (the share ``n_r / B`` of the
    global batch, so the result is the gradient of the global-batch mean), or ``w_r = 1/W`` when
    ``weight`` is None. Then ``nan_to_num`` (as StyleGAN3: a non-finite gradient would otherwise
    poison every rank's weights at once). The gradients are flattened into one buffer (one
    collective per phase, not one per tensor).

    A parameter whose ``grad`` is None on every rank keeps None (Adam then skips it, as without
    data parallelism); on some ranks only, it counts as zero there.
    """
    parameters = [p for p in parameters if p.requires_grad]
    if not context.enabled:
        return
    device = parameters[0].device if parameters else context.device
    chunks = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=device)
              for p in parameters]
    present = torch.tensor([float(p.grad is not None) for p in parameters], device=device)
    flat = torch.cat([*chunks, present])  # one buffer: every gradient, then the presence flags
    size = flat.numel() - present.numel()
    flat[:size].mul_((1.0 / context.world_size) if weight is None else weight)  # the flags are summed unscaled
    _collective(context, "the gradient all-reduce", dist.all_reduce, flat, op=dist.ReduceOp.SUM)
    # Read the flags (a host sync on CUDA) only where a gradient is missing here: if every
    # gradient is present on this rank, every count is ≥ 1 and the flags cannot change anything.
    missing_here = any(p.grad is None for p in parameters)
    counts = flat[size:].tolist() if missing_here else [1.0] * len(parameters)
    offset = 0
    for param, count in zip(parameters, counts):
        values = flat[offset:offset + param.numel()].view_as(param)
        offset += param.numel()
        if count == 0.0:  # no rank had a gradient: leave None, as one process would
            param.grad = None
            continue
        values = torch.nan_to_num(values, nan=0.0, posinf=1e5, neginf=-1e5)
        if param.grad is None:
            param.grad = values.to(param.dtype)
        else:
            param.grad.copy_(values)


SIGNAL_EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopAgreement:
    """All ranks stop after the same step when any rank received SIGINT/SIGTERM.

    Every ``every`` steps the ranks all-reduce (MAX) the signal number each received (0 if none):
    a signal to one rank (e.g. a scheduler preempting one node) reaches the decision of all at the
    next agreement step, so they stop in step and rank 0 saves one consistent checkpoint. SIGTERM
    (15) outranks SIGINT (2) when both arrive. Exit codes: 128 + signal, i.e. 143 and 130.

    The flag is a CPU tensor reduced over gloo (``context.cpu_group`` under NCCL), so it never
    waits for the GPU's queue. Cost: one small all-reduce latency per ``every`` steps.
    """

    def __init__(self, context: DistributedContext, every: int = 1):
        if every < 1:
            raise ConfigError(f"the stop agreement interval must be ≥ 1 step, got {every}")
        self.context, self.every = context, every
        self._flag = torch.zeros(1, dtype=torch.int32)  # on the host, see above

    def agreed_signal(self, local_signal: int | None, step: int) -> int | None:
        """The signal all ranks stop on after ``step``, or None to go on. Call on every rank, every step."""
        if not self.context.enabled:
            return local_signal
        if step % self.every:
            return None
        self._flag.fill_(int(local_signal or 0))
        all_reduce_(self._flag, self.context, dist.ReduceOp.MAX, what="the stop agreement",
                    group=self.context.cpu_group)
        agreed = int(self._flag.item())
        return agreed or None


def exit_code_for(signum: int | None) -> int:
    """130 for SIGINT, 143 for SIGTERM (128 + the signal number), 0 for none."""
    return 0 if signum is None else 128 + int(signum)
