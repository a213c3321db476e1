"""Is the adapted forest's supply chain short of data or of steps? A cheap proxy of its fit.

    python experiments/supply_chain_cloning_proxy.py [--checkpoint checkpoints/pretrained-lora]
        [--runs 2:24,6:8] [--agents 60] [--rounds 20] [--out results/supply_chain_proxy]

Gathers expert supply-chain episodes, passes their prompts once through the checkpoint's LM
and adapters (held fixed), and fits a fresh forest on top for each run ``EPISODES:EPOCHS``
(the same number of steps when EPISODES x EPOCHS is), supply chain only, then scores every
fit on one held-out expert episode: per echelon, the mean signed and the mean absolute
difference between the forest's action class and the expert's (a class is half a unit of
order per retailer served). At 960 steps six episodes cut the supplier's error by half against
two; but the full adaptation with four supply-chain episodes per iteration
(``--economy-episodes supply_chain=4``) did worse, in the exchange too (``AdaptConfig``'s
comment): the proxy fixes the adapters and trains on the supply chain alone. One run each,
one held-out episode: a pointer, not a measurement with an interval. About 20 minutes on two
cores.
Writes ``proxy.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from forest.checkpoints import load_policy
from forest.economy import ROLE_ID
from forest.economy.supply_chain import ECHELONS
from forest.errors import ForestError
from forest.pretrained.adaptation import AdaptConfig, adapted_forest
from forest.pretrained.language_model import DEFAULT_DIR
from forest.training.behaviour_cloning import cosine_learning_rate, imitation_loss
from forest.training.data import collect_episode
from forest.training.determinism import deterministic_threads

SEED_BASE = 50_000  # apart from training's, the router's and evaluation's seeds


def adapted_rounds(model, episode) -> list[tuple]:
    """Each round with its prompt states through the fixed adapters."""
    with torch.no_grad():
        return [
            (
                r,
                model.adapted_states(
                    model.frozen_states(r.input_ids, r.attention_mask), r.attention_mask
                ),
            )
            for r in episode.rounds
        ]


def forward(model, record, states, memory):
    summaries = model.summarize(states, record.attention_mask, record.role_ids, memory)
    actions, messages, _ = model.heads(summaries, model.aggregate(summaries, record.tree_ids))
    return actions, messages, summaries


def errors_by_echelon(model, episode) -> dict[str, dict[str, float]]:
    """Per echelon: mean signed and mean absolute action-class error against the expert."""
    model.eval()
    memory, signed, absolute = None, {}, {}
    with torch.no_grad():
        for record, states in episode:
            actions, _, memory = forward(model, record, states, memory)
            valid = torch.arange(actions.shape[1])[None, :] < record.action_valid[:, None]
            chosen = actions.masked_fill(~valid, float("-inf")).argmax(dim=1)
            diff = (chosen - record.action_target).float()
            for name in ECHELONS:
                rows = record.role_ids == ROLE_ID[name]
                signed.setdefault(name, []).append(float(diff[rows].mean()))
                absolute.setdefault(name, []).append(float(diff[rows].abs().mean()))
    return {
        name: {"bias": float(np.mean(signed[name])), "mae": float(np.mean(absolute[name]))}
        for name in ECHELONS
    }


def fit(shipped, train_rounds, epochs: int, language_model: Path):
    """A fresh forest on top of the shipped adapters, fitted on ``train_rounds`` alone."""
    torch.manual_seed(0)
    model = adapted_forest(AdaptConfig(), language_model)
    adapters = {k: v for k, v in shipped.forest_state_dict().items() if ".lora_" in k}
    model.load_state_dict(adapters, strict=False)
    params = [
        p
        for n, p in model.named_parameters()
        if p.requires_grad and not n.startswith("language_model.")
    ]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    rng = np.random.default_rng(0)
    rounds = len(train_rounds[0])
    total, step = epochs * len(train_rounds) * rounds, 0
    for _ in range(epochs):
        model.train()
        memories: dict[int, torch.Tensor] = {}
        order = rng.permutation(len(train_rounds)).tolist()
        for t in range(rounds):
            for e in order:
                record, states = train_rounds[e][t]
                actions, messages, summaries = forward(
                    model, record, states, memories.pop(e, None) if t else None
                )
                memories[e] = summaries.detach()
                loss, _ = imitation_loss(model.config, actions, messages, record, 0.5, 1.0)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                for group in optimizer.param_groups:
                    group["lr"] = cosine_learning_rate(1e-3, step, total)
                optimizer.step()
                step += 1
    return model


def run(args: argparse.Namespace) -> dict:
    runs = [tuple(int(x) for x in spec.split(":")) for spec in args.runs.split(",")]
    shipped = load_policy(Path(args.checkpoint), with_router=False)
    n_classes = shipped.model.config.n_actions
    most = max(episodes for episodes, _ in runs)
    gathered = [
        adapted_rounds(
            shipped.model,
            collect_episode(
                "supply_chain",
                SEED_BASE + k,
                args.agents,
                args.rounds,
                shipped.tokenizer,
                n_classes,
            ),
        )
        for k in range(most + 1)
    ]
    held_out, train = gathered[-1], gathered[:-1]
    result = {"checkpoint": errors_by_echelon(shipped.model, held_out)}
    for episodes, epochs in runs:
        model = fit(shipped.model, train[:episodes], epochs, Path(args.language_model))
        result[f"{episodes} episodes x {epochs} epochs"] = errors_by_echelon(model, held_out)
        print(
            f"{episodes}:{epochs}",
            json.dumps(result[f"{episodes} episodes x {epochs} epochs"]),
            flush=True,
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/pretrained-lora")
    parser.add_argument("--language-model", default=str(DEFAULT_DIR))
    parser.add_argument(
        "--runs", default="2:24,6:8", help="EPISODES:EPOCHS,... (default: %(default)s)"
    )
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="results/supply_chain_proxy")
    args = parser.parse_args(argv)
    try:
        for spec in args.runs.split(","):
            episodes, epochs = (int(x) for x in spec.split(":"))
            if episodes < 1 or epochs < 1:
                raise ValueError
    except ValueError:
        print(
            f"error: --runs: expected EPISODES:EPOCHS,... with both >= 1, got {args.runs!r}",
            file=sys.stderr,
        )
        return 2
    try:
        with deterministic_threads(args.threads):
            result = run(args)
    except ForestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "proxy.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {out / 'proxy.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
