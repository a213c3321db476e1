"""Round latency, FLOPs and peak memory of the forest against the dense baseline.

A forest round is what the harness pays each round: tokenize every agent's view, one forward
pass, decode actions and messages, route the messages. Each size runs in a fresh process so
its peak resident memory is its own. ``DenseForest`` runs the same round (same config, the
joint attention in place of the slots) at the sizes where it fits.
"""

from __future__ import annotations

import resource
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import torch

from forest import checkpoints
from forest.economy import make_economy
from forest.model import DenseForest, ForestConfig, ForestModel, dense_flops, forest_flops
from forest.policy import ForestPolicy
from forest.router import Router
from forest.tokenizer import AGENT_TOKENS, VOCAB_SIZE, AgentTokenizer


@dataclass(frozen=True)
class BenchRow:
    model: str  # "forest" or "dense"
    agents: int
    median_ms: float
    min_ms: float
    gflops: float
    peak_rss_mb: float
    router_kept_share: float


def _policy(checkpoint: str | None, preset: str, dense: bool) -> ForestPolicy:
    if checkpoint is not None:
        trained = checkpoints.load_policy(Path(checkpoint))
        config, tokenizer, router = trained.model.config, trained.tokenizer, trained.router
        state = trained.model.state_dict()
    else:
        config = ForestConfig.preset(preset, vocab_size=VOCAB_SIZE, max_agent_tokens=AGENT_TOKENS)
        tokenizer = AgentTokenizer.fit_on_experts(n_agents=100, rounds=10, seeds=1)
        router, state = Router(), None
    torch.manual_seed(0)
    model = DenseForest(config) if dense else ForestModel(config)
    if state is not None and not dense:
        model.load_state_dict(state)
    return ForestPolicy(model, tokenizer, router)


def measure(
    economy_name: str,
    agents: int,
    rounds: int,
    warmup: int,
    checkpoint: str | None,
    preset: str,
    dense: bool,
    threads: int,
) -> BenchRow:
    """Median policy-round latency at ``agents`` agents (run in a fresh process)."""
    torch.set_num_threads(threads)
    policy = _policy(checkpoint, preset, dense)
    economy = make_economy(economy_name, seed=0, n_agents=agents)
    economy.step(*economy.expert())  # so that every inbox holds messages
    times, offered, kept = [], 0, 0
    for r in range(warmup + rounds):
        start = time.perf_counter()
        step = policy.act(economy)
        elapsed = time.perf_counter() - start
        economy.step(step.actions, step.messages)
        if r >= warmup:
            times.append(1000 * elapsed)
            if step.routed is not None:
                offered, kept = offered + step.routed.tokens_in, kept + step.routed.tokens_kept
    config = policy.model.config
    tokens = policy.tokenizer.encode(economy).input_ids.shape[1]
    n_trees = len(set(economy.tree_ids().tolist()))
    flops = (
        dense_flops(config, agents, tokens=tokens)
        if dense
        else forest_flops(config, agents, n_trees=n_trees, tokens=tokens)
    )
    return BenchRow(
        model="dense" if dense else "forest",
        agents=agents,
        median_ms=statistics.median(times),
        min_ms=min(times),
        gflops=flops.total / 1e9,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        router_kept_share=kept / offered if offered else 1.0,
    )


def run_bench(
    agents: list[int],
    dense_agents: list[int],
    economy_name: str = "supply_chain",
    rounds: int = 5,
    warmup: int = 2,
    checkpoint: str | None = None,
    preset: str = "small",
    threads: int = 2,
    on_row=lambda row: None,
) -> list[BenchRow]:
    jobs = [(n, False) for n in agents] + [(n, True) for n in dense_agents]
    rows = []
    for n, dense in jobs:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            row = pool.submit(
                measure, economy_name, n, rounds, warmup, checkpoint, preset, dense, threads
            ).result()
        rows.append(row)
        on_row(row)
    return rows


def ratios(rows: list[BenchRow]) -> dict[str, float]:
    """Saturation (t(n)/t(1000), or t(smallest n) without a 1000) and the cost cut against
    dense at equal n."""
    forest = {r.agents: r for r in rows if r.model == "forest"}
    dense = {r.agents: r for r in rows if r.model == "dense"}
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
