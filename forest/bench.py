"""Round latency, FLOPs, efficiency and peak memory of the forest against the dense baseline.

A forest round is what the harness pays each round: tokenize every agent's view, one forward
pass, decode actions and messages, route the messages. Each size runs in a fresh process so
its peak resident memory is its own. ``DenseForest`` runs the same round (same config, the
joint attention in place of the slots) at the sizes where it fits.

Efficiency is the round's achieved FLOP rate over that of a plain 2048 x 2048 matmul in the same
dtype, on the same device and threads, timed between the rounds of the same process so that a
busy machine slows both alike. With ``bf16`` every round is played in float32 too, on the same
inputs and memory: that gives bf16's speed-up and the share of agents whose action it leaves
unchanged; short clean episodes in both then show what it does to play.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from forest import checkpoints
from forest.economy import Economy, make_economy
from forest.model import DenseForest, ForestConfig, ForestModel, dense_flops, forest_flops
from forest.policy import ForestPolicy, PolicyStep
from forest.precision import DTYPES, REFERENCE, action_agreement, play_effect, running_in
from forest.router import Router
from forest.tokenizer import AGENT_TOKENS, VOCAB_SIZE, AgentTokenizer

MATMUL_SIZE = 2048
# Reference matmuls timed after each timed round, per dtype: their median is the machine's rate.
MATMULS_PER_ROUND = 2


@dataclass(frozen=True)
class BenchRow:
    model: str  # "forest" or "dense"
    agents: int
    dtype: str  # "fp32" or "bf16"
    device: str
    median_ms: float
    min_ms: float
    gflops: float  # per round (forest.model.flops)
    gflop_per_s: float  # achieved: gflops over the median round
    matmul_gflop_per_s: float  # median of the reference matmul, same dtype and process
    efficiency: float  # gflop_per_s / matmul_gflop_per_s
    peak_rss_mb: float
    peak_device_mb: float | None  # the GPU's allocation high-water mark; None on the CPU
    router_kept_share: float
    speedup_vs_fp32: float | None  # fp32's median over this one; None on fp32 rows
    action_agreement: float | None  # share of agents acting as in fp32, same inputs; None on fp32


def _policy(checkpoint: str | None, preset: str, dense: bool, device: str) -> ForestPolicy:
    if checkpoint is not None:
        trained = checkpoints.load_policy(Path(checkpoint))
        config, tokenizer, router = trained.model.config, trained.tokenizer, trained.router
        state = trained.model.state_dict()
    else:
        config = ForestConfig.preset(preset, vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS)
        tokenizer = AgentTokenizer.fit_on_experts(n_agents=100, rounds=10, seeds=1)
        router, state = Router(), None
    torch.manual_seed(0)
    # Built where it runs: a 3B-shaped preset would not fit twice, nor initialise fast, on a host.
    with torch.device(device):
        model = DenseForest(config) if dense else ForestModel(config)
    if state is not None and not dense:
        model.load_state_dict(state)
    return ForestPolicy(model, tokenizer, router)


def _finish(device: str) -> None:
    """Wait for the device's queued work, so that a timer stopped next counts it."""
    if device == "cuda":
        torch.cuda.synchronize()


def _matmul_seconds(dtype: str, device: str) -> Callable[[], float]:
    g = torch.Generator().manual_seed(0)
    a, b = (
        torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=g).to(device, DTYPES[dtype])
        for _ in range(2)
    )

    def seconds() -> float:
        _finish(device)
        start = time.perf_counter()
        # In nn.Linear's layout (x @ W.T), the forest's own: without a bfloat16 GEMM in the CPU
        # (no AVX512-BF16 or AMX) torch falls back to kernels whose speed depends on the layout,
        # and a bfloat16 ``a @ b`` then ran 30x slower here than ``linear(a, b)``.
        torch.nn.functional.linear(a, b)
        _finish(device)
        return time.perf_counter() - start

    return seconds


def _timed_act(
    policy: ForestPolicy, economy: Economy, dtype: str, device: str
) -> tuple[PolicyStep, float]:
    with running_in(dtype, device):
        _finish(device)
        start = time.perf_counter()
        step = policy.act(economy)
        _finish(device)
        return step, 1000 * (time.perf_counter() - start)


def measure(
    economy_name: str,
    agents: int,
    rounds: int,
    warmup: int,
    checkpoint: str | None,
    preset: str,
    dense: bool,
    threads: int,
    dtype: str = REFERENCE,
    device: str = "cpu",
) -> list[BenchRow]:
    """Median policy-round latency at ``agents`` agents (run in a fresh process): one row in
    float32, and one in ``dtype`` too when it is another."""
    torch.set_num_threads(threads)
    reference = _policy(checkpoint, preset, dense, device)
    dtypes = list(dict.fromkeys((REFERENCE, dtype)))
    policies = {
        name: ForestPolicy(reference.model, reference.tokenizer, reference.router)
        for name in dtypes
    }
    matmuls = {name: _matmul_seconds(name, device) for name in dtypes}
    economy = make_economy(economy_name, seed=0, n_agents=agents)
    economy.step(*economy.expert())  # so that every inbox holds messages
    times: dict[str, list[float]] = {name: [] for name in dtypes}
    matmul_s: dict[str, list[float]] = {name: [] for name in dtypes}
    agreement: dict[str, list[float]] = {name: [] for name in dtypes}
    offered, kept = 0, 0
    for r in range(warmup + rounds):
        memory = policies[REFERENCE].memory
        steps: dict[str, PolicyStep] = {}
        # Alternate who goes first, so that neither always finds the caches the other warmed.
        for name in dtypes if r % 2 == 0 else dtypes[::-1]:
            policies[name].memory = memory  # every precision decides from the same inputs
            steps[name], elapsed_ms = _timed_act(policies[name], economy, name, device)
            if r >= warmup:
                times[name].append(elapsed_ms)
                matmul_s[name].extend(matmuls[name]() for _ in range(MATMULS_PER_ROUND))
            elif r == 0:
                matmuls[name]()  # warm-up
        step = steps[REFERENCE]
        if r >= warmup:
            for name in dtypes:
                agreement[name].append(action_agreement(steps[name].actions, step.actions))
        economy.step(step.actions, step.messages)
        if r >= warmup and step.routed is not None:
            offered, kept = offered + step.routed.tokens_in, kept + step.routed.tokens_kept
    config = reference.model.config
    tokens = reference.tokenizer.encode(economy).input_ids.shape[1]
    n_trees = len(set(economy.tree_ids().tolist()))
    flops = (
        dense_flops(config, agents, tokens=tokens)
        if dense
        else forest_flops(config, agents, n_trees=n_trees, tokens=tokens)
    )
    gflops = flops.total / 1e9
    peak_device = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
    reference_ms = statistics.median(times[REFERENCE])
    rows = []
    for name in dtypes:
        median_ms = statistics.median(times[name])
        achieved = gflops / (median_ms / 1000)
        matmul = 2 * MATMUL_SIZE**3 / statistics.median(matmul_s[name]) / 1e9
        lowered = name != REFERENCE
        rows.append(
            BenchRow(
                model="dense" if dense else "forest",
                agents=agents,
                dtype=name,
                device=device,
                median_ms=median_ms,
                min_ms=min(times[name]),
                gflops=gflops,
                gflop_per_s=achieved,
                matmul_gflop_per_s=matmul,
                efficiency=achieved / matmul,
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                peak_device_mb=peak_device,
                router_kept_share=kept / offered if offered else 1.0,
                speedup_vs_fp32=reference_ms / median_ms if lowered else None,
                action_agreement=statistics.mean(agreement[name]) if lowered else None,
            )
        )
    return rows


def compare_play(
    economy_name: str,
    agents: int,
    rounds: int,
    seeds: int,
    checkpoint: str | None,
    preset: str,
    threads: int,
    dtype: str,
    device: str,
) -> dict[str, Any]:
    """Task completion and welfare of clean episodes in float32 and in ``dtype`` (run in a fresh
    process)."""
    torch.set_num_threads(threads)
    policy = _policy(checkpoint, preset, False, device)
    effect = play_effect(policy, dtype, economy_name, agents, rounds, seeds)
    return {"economy": economy_name, "agents": agents, "rounds": rounds, "seeds": seeds, **effect}


def in_fresh_process(job: Callable[..., Any], *args: Any) -> Any:
    """``job(*args)`` in a spawned process: its threads, memory and peak are its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(job, *args).result()


def run_bench(
    agents: list[int],
    dense_agents: list[int],
    economy_name: str = "supply_chain",
    rounds: int = 5,
    warmup: int = 2,
    checkpoint: str | None = None,
    preset: str = "small",
    threads: int = 2,
    dtype: str = REFERENCE,
    device: str = "cpu",
    on_row: Callable[[BenchRow], None] = lambda row: None,
) -> list[BenchRow]:
    jobs = [(n, False) for n in agents] + [(n, True) for n in dense_agents]
    rows = []
    for n, dense in jobs:
        measured = in_fresh_process(
            measure, economy_name, n, rounds, warmup, checkpoint, preset, dense, threads, dtype,
            device,
        )  # fmt: skip
        for row in measured:
            rows.append(row)
            on_row(row)
    return rows


def ratios(rows: list[BenchRow]) -> dict[str, float]:
    """Saturation (t(n)/t(1000), or t(smallest n) without a 1000) and the cost cut against
    dense at equal n, in float32."""
    forest = {r.agents: r for r in rows if r.model == "forest" and r.dtype == REFERENCE}
    dense = {r.agents: r for r in rows if r.model == "dense" and r.dtype == REFERENCE}
    out: dict[str, float] = {}
    if forest:
        base = 1000 if 1000 in forest else min(forest)
        for n, row in sorted(forest.items()):
            if n > base:
                out[f"time({n})/time({base})"] = row.median_ms / forest[base].median_ms
    for n in sorted(set(forest) & set(dense)):
        out[f"flops_cut_vs_dense@{n}"] = 1 - forest[n].gflops / dense[n].gflops
        out[f"time_cut_vs_dense@{n}"] = 1 - forest[n].median_ms / dense[n].median_ms
    return out


def as_dicts(rows: list[BenchRow]) -> list[dict]:
    return [asdict(r) for r in rows]
