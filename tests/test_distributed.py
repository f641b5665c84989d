"""Data parallelism (``gan_atelier.training.distributed``) on CPU with gloo, two ranks forked inside pytest.

The central check: two ranks, each with its share of a global batch B and gradients synced by
:func:`sync_gradients`, end k optimizer steps with the same weights as one process on batch B —
for the TP's MLP (BCE), a WGAN-GP critic (double backward) and a zero-centred R1 penalty on the
reals — including a short last batch whose shards differ in size and one where a rank's share is
empty (3 steps); and the Trainer itself over one epoch (sharded batches, ``descend``'s sync,
weighted epoch statistics) with z shared between the ranks. Tolerances: the synced gradients within 1e-5 of the reference's (relative L2, every step);
the weights after k Adam steps within 1 % of the largest move of a weight (Adam divides by
√v, which magnifies float rounding on near-zero gradients); the measured errors are printed
(pytest -s). A negative control (plain averaging over ranks instead of
the n_r / B weights) must miss it. Forking avoids re-importing torch: one fork pair per group.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import time
import traceback
from pathlib import Path

import pytest
import torch

from gan_atelier.errors import ConfigError, DistributedError
from gan_atelier.losses import get_loss_pair, gradient_penalty
from gan_atelier.models.mlp import Discriminator, Generator
from gan_atelier.speed import make_adam
from gan_atelier.training.distributed import (DistributedContext, StopAgreement, broadcast_parameters,
                                              detect_launcher, exit_code_for, init_distributed,
                                              shard_bounds, sync_gradients)

GRADIENT_TOLERANCE = 1e-5  # ‖Δg‖ / ‖g‖ at every step, D and G
WEIGHT_TOLERANCE = 1e-2  # max |Δw| after k steps, as a fraction of the largest move of a weight
BATCHES = (8, 5, 1)  # global batch 8; a short batch of 5 (shards 2 and 3) and of 1 (one empty shard)
CASES = ("mlp-bce", "wgan-gp", "r1")


# ----------------------------------------------------------------------------- single process
def test_detect_launcher_reads_torchrun_and_slurm():
    torchrun = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "node0", "MASTER_PORT": "1234"}
    launch = detect_launcher(torchrun)
    assert (launch.launcher, launch.rank, launch.world_size, launch.local_rank) == ("torchrun", 1, 2, 1)
    assert (launch.master_addr, launch.master_port) == ("node0", 1234)
    assert detect_launcher({}) is None
    assert detect_launcher({"RANK": "0", "WORLD_SIZE": "1"}) is None  # torchrun --nproc_per_node=1
    slurm = {"SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "4", "SLURM_LOCALID": "1", "SLURM_JOB_ID": "123456",
             "MASTER_ADDR": "gpu7"}
    launch = detect_launcher(slurm)
    assert (launch.launcher, launch.rank, launch.world_size, launch.local_rank) == ("slurm", 3, 4, 1)
    assert launch.master_port == 20000 + 123456 % 10000
    # a plain python inside `sbatch --ntasks=4` (no srun step): one process, no hang
    assert detect_launcher({"SLURM_PROCID": "0", "SLURM_NTASKS": "4"}) is None
    with pytest.raises(ConfigError, match="MASTER_ADDR"):
        detect_launcher({k: v for k, v in slurm.items() if k != "MASTER_ADDR"})
    with pytest.raises(ConfigError, match="WORLD_SIZE"):
        detect_launcher({"RANK": "0", "WORLD_SIZE": "two"})


def test_single_process_context_is_inert():
    context = init_distributed("cpu", environ={})
    assert (context.rank, context.world_size, context.backend, context.is_main, context.enabled) == (0, 1, None, True, False)
    parameter = torch.nn.Parameter(torch.ones(3))
    parameter.grad = torch.tensor([1.0, float("nan"), 3.0])
    sync_gradients([parameter], context, weight=0.5)
    torch.testing.assert_close(parameter.grad, torch.tensor([1.0, float("nan"), 3.0]), equal_nan=True)  # untouched
    assert StopAgreement(context).agreed_signal(signal.SIGTERM, 7) == signal.SIGTERM
    assert (exit_code_for(signal.SIGTERM), exit_code_for(signal.SIGINT), exit_code_for(None)) == (143, 130, 0)


@pytest.mark.parametrize("count,world", [(8, 2), (5, 2), (1, 2), (13, 4), (3, 8), (0, 3)])
def test_shard_bounds_tile_the_batch_in_rank_order(count, world):
    bounds = [shard_bounds(count, rank, world) for rank in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == count
    assert all(bounds[r][1] == bounds[r + 1][0] for r in range(world - 1))  # contiguous, in order
    sizes = [stop - start for start, stop in bounds]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == count
    with pytest.raises(ValueError):
        shard_bounds(count, world, world)


def test_check_job_refuses_a_world_larger_than_a_batch_share():
    from gan_atelier import config as cfg
    from gan_atelier.training.data_parallel import check_job

    config = cfg.apply_overrides(cfg.get_config("seed"), {"train.batch_size": "128"})
    four = DistributedContext(rank=0, world_size=4)
    check_job(config, 60000, torch.device("cpu"), four)  # last batch 96: fine
    with pytest.raises(ConfigError, match="last batch of each epoch holds 2"):
        check_job(config, 130, torch.device("cpu"), four)
    with pytest.raises(ConfigError, match="sync_batchnorm=true needs CUDA"):
        check_job(cfg.apply_overrides(config, {"model.sync_batchnorm": "true"}), 60000, torch.device("cpu"),
                  DistributedContext())


# ----------------------------------------------------------------------------- forked ranks
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environ(rank: int, world: int, port: int) -> dict[str, str]:
    return {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}


def _child(target, rank: int, world: int, port: int, out: Path) -> None:
    """Body of one forked rank: run ``target``, write its result (or traceback) as JSON, exit."""
    code = 0
    try:
        torch.set_num_threads(1)
        context = init_distributed("cpu", timeout_s=30, environ=_environ(rank, world, port))
        result = target(context, out)
        (out / f"rank{rank}.json").write_text(json.dumps({"ok": True, "result": result}))
    except BaseException:  # report everything to the parent
        (out / f"rank{rank}.json").write_text(json.dumps({"ok": False, "error": traceback.format_exc()}))
        code = 1
    os._exit(code)  # skip pytest's atexit machinery inherited through fork


def _warm_up() -> None:
    """Pay the one-off imports here, once, not in every forked rank (the first optimizer imports
    torch._dynamo: seconds on a loaded machine)."""
    make_adam([torch.nn.Parameter(torch.zeros(1))], 1e-3, (0.5, 0.999), torch.device("cpu"))
    import gan_atelier.training  # noqa: F401


def _spawn(target, tmp_path: Path, world: int = 2, timeout: float = 120) -> list[dict]:
    """Fork ``world`` ranks running ``target(context, tmp_path)``; return each rank's JSON report."""
    _warm_up()
    port = _free_port()
    forked = multiprocessing.get_context("fork")
    processes = [forked.Process(target=_child, args=(target, rank, world, port, tmp_path)) for rank in range(world)]
    for process in processes:
        process.start()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(deadline - time.monotonic(), 0.1))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    reports = []
    for rank in range(world):
        path = tmp_path / f"rank{rank}.json"
        reports.append(json.loads(path.read_text()) if path.exists() else {"ok": False, "error": "no report"})
    return reports


def _train(case: str, context: DistributedContext, *, plain_average: bool = False) -> tuple[list, list]:
    """k = len(BATCHES) alternating D/G Adam steps; each rank computes on its shard of the global batch."""
    torch.manual_seed(0)
    generator, discriminator = Generator(latent_dim=16), Discriminator()
    discriminator.eval()  # dropout off: its masks would differ between one process and two
    broadcast_parameters([generator, discriminator], context)
    optimizer_g = make_adam(generator.parameters(), 2e-4, (0.5, 0.999), torch.device("cpu"))
    optimizer_d = make_adam(discriminator.parameters(), 2e-4, (0.5, 0.999), torch.device("cpu"))
    pair = get_loss_pair("wgan-gp" if case == "wgan-gp" else "ns")
    data = torch.rand(sum(BATCHES), 1, 28, 28, generator=torch.Generator().manual_seed(1))
    noise = torch.Generator().manual_seed(2)  # same stream on every rank: draw the global batch, keep a share
    start, gradients_seen = 0, []
    for count in BATCHES:
        real_global = data[start:start + count]
        start += count
        z_global = torch.randn(count, 16, generator=noise)
        alpha_global = torch.rand(count, 1, 1, 1, generator=noise)
        first, stop = shard_bounds(count, context.rank, context.world_size)
        real, z, alpha = real_global[first:stop], z_global[first:stop], alpha_global[first:stop]
        weight = None if plain_average else (stop - first) / count  # n_r / B

        empty = stop == first  # this rank's share of a short batch is empty: it contributes no gradient
        fake = generator(z).view_as(real)
        optimizer_d.zero_grad(set_to_none=True)
        if not empty:
            d_loss = pair.d_loss(discriminator(real), discriminator(fake.detach()))
            if case == "wgan-gp":
                d_loss = d_loss + 10.0 * gradient_penalty(discriminator, real, fake.detach(), alpha)
            if case == "r1":  # R1 = γ/2 · E‖∇ₓ D(x)‖² on reals (Mescheder et al. 2018), γ = 10
                reals = real.detach().requires_grad_(True)
                (gradients,) = torch.autograd.grad(discriminator(reals).sum(), reals, create_graph=True)
                d_loss = d_loss + 5.0 * gradients.pow(2).flatten(1).sum(1).mean()
            d_loss.backward()
        sync_gradients(discriminator.parameters(), context, weight=weight)
        gradients_seen.append(_flat_gradients(discriminator))
        optimizer_d.step()

        discriminator.requires_grad_(False)
        optimizer_g.zero_grad(set_to_none=True)
        if not empty:
            pair.g_loss(discriminator(fake)).backward()
        sync_gradients(generator.parameters(), context, weight=weight)
        gradients_seen.append(_flat_gradients(generator))
        optimizer_g.step()
        discriminator.requires_grad_(True)
    weights = [p.detach().clone() for p in list(generator.parameters()) + list(discriminator.parameters())]
    return weights, gradients_seen


def _flat_gradients(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in module.parameters()])


def _gradient_error(left: list[torch.Tensor], right: list[torch.Tensor]) -> float:
    return max(float((a - b).norm() / b.norm()) for a, b in zip(left, right))


def _max_error(left: list[torch.Tensor], right: list[torch.Tensor]) -> float:
    return max(float((a - b).abs().max()) for a, b in zip(left, right))


def _trainer_epoch(context: DistributedContext) -> tuple[list[torch.Tensor], dict]:
    """The Trainer itself (sharded batches, ``descend``'s sync, weighted statistics): one epoch of
    40 images in global batches of 15 (shards 7/8, 7/8, 5/5), the TP's BCE, dropout off. Each rank
    draws z for the whole global batch from one shared stream and keeps its share, so one process
    and two ranks see the same z (the run driver gives each rank its own stream instead)."""
    from gan_atelier import config as cfg
    from gan_atelier.data import synthetic_split
    from gan_atelier.training import Trainer, data_parallel

    config = cfg.apply_overrides(cfg.get_config("dry-run"), {"train.batch_size": "15"})
    trainer = Trainer(config, synthetic_split(40), "cpu", rank=context.rank)
    data_parallel.attach(trainer, context)
    for module in trainer.discriminator.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    shared = torch.Generator().manual_seed(7)

    def noise(count: int) -> torch.Tensor:
        size = min(15, 40 - trainer.batch_index * 15)  # this global batch
        first, stop = shard_bounds(size, context.rank, context.world_size)
        assert stop - first == count
        return torch.randn(size, config.model.latent_dim, generator=shared)[first:stop]

    trainer.noise = noise
    start = [p.detach().clone() for p in list(trainer.generator.parameters()) + list(trainer.discriminator.parameters())]
    while not trainer.epoch_done():
        trainer.train_step()
    row = trainer.finish_epoch()
    weights = [p.detach().clone() for p in list(trainer.generator.parameters()) + list(trainer.discriminator.parameters())]
    return weights, {**row, "moved": _max_error(weights, start)}


def _equivalence_ranks(context: DistributedContext, out: Path) -> dict:
    single = DistributedContext()
    report = {}
    parallel_weights, parallel_row = _trainer_epoch(context)
    if context.is_main:
        weights, row = _trainer_epoch(single)
        report["trainer"] = {"error": _max_error(parallel_weights, weights), "moved": row["moved"],
                             "row_error": max(abs(parallel_row[k] - row[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))}
    for case in CASES:
        parallel, parallel_gradients = _train(case, context)
        plain, _ = _train(case, context, plain_average=True) if case == "mlp-bce" else (None, None)
        if context.is_main:  # the world-1 reference, computed by rank 0 alone (no collectives)
            reference, reference_gradients = _train(case, single)
            report[case] = {"gradient_error": _gradient_error(parallel_gradients, reference_gradients),
                            "error": _max_error(parallel, reference),
                            "moved": _max_error(reference, _initial_weights())}
            if plain is not None:
                report[case]["plain_average_error"] = _max_error(plain, reference)
        else:
            report[case] = {}
        # the ranks' copies are identical, bit for bit
        gathered = torch.cat([p.reshape(-1) for p in parallel])
        copy = gathered.clone()
        torch.distributed.broadcast(copy, src=0)
        report[case]["ranks_bitwise_equal"] = bool(torch.equal(copy, gathered))
    return report


def _initial_weights() -> list[torch.Tensor]:
    torch.manual_seed(0)
    generator, discriminator = Generator(latent_dim=16), Discriminator()
    return [p.detach().clone() for p in list(generator.parameters()) + list(discriminator.parameters())]


def test_two_ranks_equal_one_process_on_the_global_batch(tmp_path):
    reports = _spawn(_equivalence_ranks, tmp_path)
    for rank, report in enumerate(reports):
        assert report["ok"], f"rank {rank}:\n{report['error']}"
    main = reports[0]["result"]
    print("\nworld 2 vs world 1 after", len(BATCHES), "steps:", {case: {k: f"{v:.2e}" for k, v in main[case].items()
                                                                  if isinstance(v, float)} for case in CASES})
    trainer = main["trainer"]
    print("the Trainer, one epoch (3 steps):", trainer)
    assert trainer["error"] <= WEIGHT_TOLERANCE * trainer["moved"] and trainer["row_error"] <= 1e-6, trainer
    for case in CASES:
        for report in reports:
            assert report["result"][case]["ranks_bitwise_equal"], case
        result = main[case]
        assert result["gradient_error"] <= GRADIENT_TOLERANCE, (case, result)
        assert result["error"] <= WEIGHT_TOLERANCE * result["moved"], (case, result)
        if "plain_average_error" in result:  # the control: plain averaging misses the short batches
            assert result["plain_average_error"] > 10 * WEIGHT_TOLERANCE * result["moved"], (case, result)
        assert result["moved"] > 1e-4  # Adam at lr 2e-4 moved the weights: the comparison is not vacuous


def _nonfinite_agreement(context: DistributedContext) -> list[str]:
    """A NaN loss on rank 1 only: both ranks stop (on_nan=stop) — or skip the same step (skip)."""
    from gan_atelier import config as cfg
    from gan_atelier.data import synthetic_split
    from gan_atelier.errors import NonFiniteLossError
    from gan_atelier.training import Trainer, data_parallel

    outcomes = []
    for on_nan in ("stop", "skip"):
        config = cfg.apply_overrides(cfg.get_config("dry-run"), {"train.batch_size": "16", "train.on_nan": on_nan})
        trainer = Trainer(config, synthetic_split(64), "cpu", rank=context.rank)
        data_parallel.attach(trainer, context)
        if context.rank == 1:
            with torch.no_grad():
                trainer.discriminator.model[-1].bias.fill_(float("nan"))  # rank 1's D: NaN logits
        try:
            result = trainer.train_step()
            outcomes.append(f"{on_nan}: step {trainer.step} {'skipped' if result is None else 'applied'}")
        except NonFiniteLossError as error:
            outcomes.append(f"{on_nan}: stopped, {'another rank' if 'another rank' in str(error) else 'here'}")
    return outcomes


def _global_d_real(context: DistributedContext) -> list[float]:
    """One epoch of one global batch of 33 (shards 16 and 17), dropout off: the epoch's D(x) is the
    mean of σ(D(x)) over the 33 images, as one process computes it; plain averaging of the two
    ranks' means would give another number. Returns [two ranks' row, one process's row]."""
    from gan_atelier import config as cfg
    from gan_atelier.data import synthetic_split
    from gan_atelier.training import Trainer, data_parallel

    config = cfg.apply_overrides(cfg.get_config("dry-run"), {"train.batch_size": "33"})
    rows = []
    for parallel in (True, False):
        trainer = Trainer(config, synthetic_split(33), "cpu", rank=context.rank if parallel else 0)
        data_parallel.attach(trainer, context if parallel else DistributedContext())
        for module in trainer.discriminator.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        trainer.train_step()
        if parallel:  # the control: the plain average of the two ranks' own means
            own_mean = trainer.accumulator.sums[2:3] / trainer.batch_weight
            means = [torch.zeros(1, dtype=torch.float64) for _ in range(context.world_size)]
            torch.distributed.all_gather(means, own_mean)
            plain_average = float(sum(means) / context.world_size)
        rows.append(trainer.finish_epoch()["d_real"])
        if not context.is_main:
            break  # the one-process row is rank 0's business
    return rows + [plain_average]


def _batchnorm_buffers(context: DistributedContext) -> list[bool]:
    """DCGAN (BatchNorm): after one epoch of two steps, every rank holds rank 0's running statistics."""
    from gan_atelier import config as cfg
    from gan_atelier.data import synthetic_split
    from gan_atelier.training import Trainer, data_parallel

    config = cfg.apply_overrides(cfg.get_config("dcgan"), {"train.batch_size": "8"})
    trainer = Trainer(config, synthetic_split(16), "cpu", rank=context.rank)
    data_parallel.attach(trainer, context)
    while not trainer.epoch_done():
        trainer.train_step()
    buffers = torch.cat([b.double().reshape(-1) for m in (trainer.generator, trainer.discriminator) for b in m.buffers()])
    before = buffers.clone()  # after the steps: this rank's own running statistics
    trainer.finish_epoch()
    after = torch.cat([b.double().reshape(-1) for m in (trainer.generator, trainer.discriminator) for b in m.buffers()])
    zero = after.clone()
    torch.distributed.broadcast(zero, src=0)
    return [bool(torch.equal(after, zero)), bool(torch.equal(before, after))]


def _agreement_and_death(context: DistributedContext, out: Path) -> dict:
    """Stop agreement, its cost, the all-reduce cost of the TP's gradients, then rank 1 dies."""
    report = {}
    agreement = StopAgreement(context)
    stops = []
    for step in range(1, 6):  # rank 1 alone is "signalled" at step 3
        local = signal.SIGTERM if (context.rank == 1 and step >= 3) else None
        agreed = agreement.agreed_signal(local, step)
        if agreed is not None:
            stops.append((step, agreed))
            break
    report["stopped"] = stops
    every_third = StopAgreement(context, every=3)
    report["every_3"] = [every_third.agreed_signal(signal.SIGINT if context.rank == 0 else None, step)
                         for step in (1, 2, 3)]
    started = time.perf_counter()
    for step in range(200):
        agreement.agreed_signal(None, step)
    report["agreement_us"] = (time.perf_counter() - started) / 200 * 1e6
    torch.manual_seed(0)
    generator, discriminator = Generator(), Discriminator()  # the TP's 2.9 M parameters
    for parameter in list(generator.parameters()) + list(discriminator.parameters()):
        parameter.grad = torch.ones_like(parameter)
    started = time.perf_counter()
    for _ in range(5):
        sync_gradients(discriminator.parameters(), context, weight=0.5)
        sync_gradients(generator.parameters(), context, weight=0.5)
    report["gradient_sync_ms"] = (time.perf_counter() - started) / 5 * 1e3
    report["grad_is_sum_of_weighted"] = bool(all(torch.equal(p.grad, torch.ones_like(p)) for p in generator.parameters()))
    # a gradient missing on every rank stays None (Adam skips it); missing on one rank counts as zero there
    nowhere, somewhere = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    somewhere.grad = torch.full((2,), 4.0) if context.is_main else None
    sync_gradients([nowhere, somewhere], context)
    report["missing"] = [nowhere.grad is None, somewhere.grad.tolist()]
    report["nonfinite"] = _nonfinite_agreement(context)
    report["d_real"] = _global_d_real(context)
    report["batchnorm"] = _batchnorm_buffers(context)
    # one rank dies: the other's next collective fails with a clear error, not a hang
    if context.rank == 1:
        (out / "rank1.json").write_text(json.dumps({"ok": True, "result": report}))
        os._exit(0)
    started = time.perf_counter()
    try:
        agreement.agreed_signal(None, 1)
        agreement.agreed_signal(None, 2)
        report["death"] = "no error"
    except DistributedError as error:
        report["death"] = str(error)
    report["death_seconds"] = time.perf_counter() - started
    return report


def test_stop_agreement_and_a_dead_rank(tmp_path):
    reports = _spawn(_agreement_and_death, tmp_path)
    for rank, report in enumerate(reports):
        assert report["ok"], f"rank {rank}:\n{report['error']}"
    zero, one = reports[0]["result"], reports[1]["result"]
    assert zero["stopped"] == one["stopped"] == [[3, signal.SIGTERM]]  # both stop after the same step
    assert zero["every_3"] == one["every_3"] == [None, None, signal.SIGINT]
    assert zero["grad_is_sum_of_weighted"] and one["grad_is_sum_of_weighted"]
    assert zero["missing"] == one["missing"] == [True, [2.0, 2.0]]  # (4 + 0) / 2
    assert zero["batchnorm"] == [True, True] and one["batchnorm"] == [True, False]  # rank 1 took rank 0's
    parallel_d_real, single_d_real, plain_average = zero["d_real"]
    assert one["d_real"][0] == parallel_d_real  # every rank holds the global statistic
    assert abs(parallel_d_real - single_d_real) < 1e-7, zero["d_real"]
    assert abs(plain_average - single_d_real) > 2e-6, zero["d_real"]  # the weighting matters here (1.8e-5)
    assert zero["nonfinite"] == ["stop: stopped, another rank", "skip: step 1 skipped"]
    assert one["nonfinite"] == ["stop: stopped, here", "skip: step 1 skipped"]
    print(f"\nepoch D(x), two ranks / one process / plain average of rank means: {zero['d_real']}")
    print(f"\nstop agreement: {zero['agreement_us']:.0f} µs per step; TP gradient all-reduce (2.9 M floats, "
          f"gloo, 2 ranks): {zero['gradient_sync_ms']:.1f} ms per step; dead rank noticed in "
          f"{zero['death_seconds']:.2f} s")
    assert "rank 0 of 2" in zero["death"] and "died" in zero["death"] and "checkpoint" in zero["death"], zero["death"]
