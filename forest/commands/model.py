"""``forest train``, ``forest eval`` and ``forest info``: the forest model itself."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from forest import checkpoints
from forest.commands.common import mean_sd, prepare_output, progress_bar
from forest.economy import economy_class, economy_names
from forest.economy.rollout import evaluate_expert, summarize
from forest.evaluation import evaluate_forest, kept_share
from forest.model import ForestConfig, dense_flops, forest_flops, meta_model, parameter_counts
from forest.model.config import PRESETS
from forest.model.robust_aggregation import METHODS, RobustAggregation
from forest.pretrained.modeling import PretrainedForestConfig
from forest.training.behaviour_cloning import train_forest
from forest.training.config import TrainConfig

DEFAULT_CHECKPOINT = Path("checkpoints/small")


def train(args: argparse.Namespace, console: Console) -> int:
    overrides = {"seed": args.seed}
    for field in ("iterations", "threads", "init_from"):
        if getattr(args, field) is not None:
            overrides[field] = getattr(args, field)
    config = TrainConfig.preset(args.preset, **overrides)
    out = Path(args.out)
    if not prepare_output(out, args.force, console):
        return 2
    started = time.perf_counter()
    with progress_bar(console) as progress:
        task = progress.add_task("starting", total=None)

        def on_phase(phase: str, total: int) -> None:
            progress.reset(task, description=phase, total=total or None)

        def on_step(figures: dict[str, float]) -> None:
            progress.advance(task)

        _, log = train_forest(config, out, on_step=on_step, on_phase=on_phase)
    minutes = (time.perf_counter() - started) / 60
    last = log[-1]
    console.print(
        f"trained {config.model_preset} forest in {minutes:.1f} min: {len(log)} steps, final "
        f"action loss {last['action_loss']:.3f}, message loss {last['message_loss']:.3f}\n"
        f"saved to {out}/ (model.safetensors, tokenizer.json, router.safetensors, "
        f"loss_curve.png, train_log.json)"
    )
    return 0


def evaluate(args: argparse.Namespace, console: Console) -> int:
    names = [args.economy] if args.economy else economy_names()
    for name in names:
        economy_class(name)
    policy = checkpoints.load_policy(Path(args.checkpoint))
    robust = None if args.robust_aggregation is None else RobustAggregation(args.robust_aggregation)
    rows = {}
    with progress_bar(console) as progress:
        for name in names:
            n_agents = args.agents or economy_class(name).config_class().n_agents
            task = progress.add_task(name, total=3 * args.seeds * args.rounds)
            tick = lambda task=task: progress.advance(task)  # noqa: E731
            play = (policy, name, args.seeds, args.rounds, n_agents)
            routed = evaluate_forest(*play, use_router=True, on_round=tick, robust=robust)
            full = evaluate_forest(*play, use_router=False, on_round=tick, robust=robust)
            expert = evaluate_expert(name, args.seeds, args.rounds, n_agents, on_round=tick)
            rows[name] = {
                "n_agents": n_agents,
                "forest": summarize(routed),
                "forest_all_messages": summarize(full),
                "expert": summarize(expert),
                "router_kept_share": kept_share(routed),
            }
    if args.json:
        out = {
            name: {
                "n_agents": row["n_agents"],
                "router_kept_share": row["router_kept_share"],
                **{
                    who: {key: mean for key, (mean, _) in row[who].items()}
                    for who in ("forest", "forest_all_messages", "expert")
                },
            }
            for name, row in rows.items()
        }
        print(json.dumps(out, indent=2))
        return 0
    pooling = "" if robust is None else f", {robust.method} pooling"
    shown = mean_sd if args.seeds > 1 else (lambda pair: f"{pair[0]:.4f}")
    played = {"forest": "forest + router", "forest_all_messages": "forest, all messages",
              "expert": "expert"}  # fmt: skip
    settings = f"{args.seeds} seeds x {args.rounds} rounds{pooling}"
    welfare = Table(
        title=f"clean welfare (the economy's own measure; higher is better), {settings}",
        caption="task completion cannot register harm on its own: over-ordering fills every "
        "order, and a price rise raises the firms' completion",
    )
    completion = Table(title=f"clean task completion, {settings}")
    for table in (welfare, completion):
        for column in ("economy", "agents", *played.values()):
            table.add_column(column, justify="right")
    welfare.add_column("welfare is")
    completion.add_column("tokens kept by router", justify="right")
    for name, row in rows.items():
        head = (name, str(row["n_agents"]))
        welfare.add_row(*head, *(shown(row[w]["welfare"]) for w in played),
                        economy_class(name).welfare_name)  # fmt: skip
        completion.add_row(*head, *(shown(row[w]["task_completion"]) for w in played),
                           f"{row['router_kept_share']:.1%}")  # fmt: skip
    console.print(welfare)
    console.print(completion)
    return 0


def info(args: argparse.Namespace, console: Console) -> int:
    target = args.target
    if target in PRESETS:
        config = ForestConfig.preset(target)
    elif checkpoints.is_pretrained_checkpoint(Path(target)):
        config = PretrainedForestConfig.from_json_file(str(Path(target) / "config.json"))
    else:
        config = ForestConfig.from_json_file(str(Path(target) / "config.json"))
    # A pretrained forest's parameters here are the forest's own; its FLOPs include the LM.
    params = parameter_counts(meta_model(config))
    forest = forest_flops(config, args.agents, n_trees=max(1, args.agents // 50))
    dense = dense_flops(config, args.agents)
    facts = {
        "hidden_size": config.hidden_size,
        "layers": config.num_hidden_layers,
        "heads": config.num_attention_heads,
        "kv_heads": config.num_key_value_heads,
        "tokens_per_agent": config.max_agent_tokens,
        "tree_slots": config.tree_slots,
        "forest_slots": config.forest_slots,
        "parameters": params["total"],
        "parameters_by_part": params,
        "agents": args.agents,
        "flops_per_agent_round": forest.total / args.agents,
        "dense_flops_per_agent_round": dense.total / args.agents,
        "compressed_vs_dense_cost_cut": 1 - forest.total / dense.total,
    }
    if isinstance(config, PretrainedForestConfig):
        # No dense twin of the pretrained forest exists; its agents read LM prompts.
        for key in ("dense_flops_per_agent_round", "compressed_vs_dense_cost_cut"):
            del facts[key]
        facts["tokens_per_agent"] = config.max_prompt_tokens
        lm = f"{config.prompt_num_layers} layers x {config.prompt_hidden_size} wide, frozen"
        if config.lora_rank:
            # Rank r on a (out, in) projection adds r * (in + out) weights.
            width, inner = config.prompt_hidden_size, config.prompt_intermediate_size
            kv = width * config.prompt_num_kv_heads // config.prompt_num_heads
            shapes = [(width, width), (width, kv), (width, kv), (width, width)]
            shapes += [(width, inner), (width, inner), (inner, width)]
            adapters = config.lora_layers * config.lora_rank * sum(a + b for a, b in shapes)
            lm += (
                f" but for rank-{config.lora_rank} LoRA adapters on its last "
                f"{config.lora_layers} ({adapters:,} weights)"
            )
        facts["language_model"] = lm + " (not in the parameter count)"
    if args.json:
        print(json.dumps(facts, indent=2))
        return 0
    table = Table(title=f"forest {target}")
    table.add_column("fact")
    table.add_column("value", justify="right")
    for key, value in facts.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:,}" for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, int):
            value = f"{value:,}"
        table.add_row(key, str(value))
    console.print(table)
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser(
        "train",
        help="train a forest and its router by behaviour cloning from the experts",
        description="Behaviour cloning (with DAgger) of the forest on all three economies at "
        "once, then the router on counterfactual labels. Checkpoints after every iteration: "
        "rerunning the same command resumes a killed run.",
    )
    tr.add_argument("--preset", default="small", choices=sorted(TrainConfig.presets))
    tr.add_argument("--out", required=True, help="folder for the checkpoint")
    tr.add_argument("--seed", type=int, default=0, help="training seed (default: %(default)s)")
    tr.add_argument("--iterations", type=int, default=None, help="DAgger iterations")
    tr.add_argument(
        "--init",
        dest="init_from",
        default=None,
        help="start from this trained checkpoint's weights (of the preset's shape) instead of "
        "fresh ones; e.g. --preset large-tuned-expert --init runs/large --iterations 2",
    )
    tr.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: the preset's, 1); the same count reproduces the same "
        "weights bit for bit",
    )
    tr.add_argument("--force", action="store_true", help="retrain a finished checkpoint")
    tr.set_defaults(handler=train)

    ev = sub.add_parser(
        "eval",
        help="clean task completion of a trained forest, with and without its router",
        description="Play the forest (with its router, and with every message kept) and the "
        "experts on the same seeds; report task completion and the router's token savings.",
    )
    ev.add_argument("checkpoint", help=f"checkpoint folder (e.g. {DEFAULT_CHECKPOINT})")
    ev.add_argument("--economy", default=None, help="one economy (default: all)")
    ev.add_argument("--agents", type=int, default=None, help="agents (default: economy's)")
    ev.add_argument("--rounds", type=int, default=50, help="rounds (default: %(default)s)")
    ev.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 (default: %(default)s)")
    ev.add_argument(
        "--robust-aggregation",
        choices=METHODS,
        default=None,
        help="pool the forest's tree slots robustly (the defense's clean cost; default: plain)",
    )
    ev.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ev.set_defaults(handler=evaluate)

    inf = sub.add_parser(
        "info",
        help="size and cost of a preset or checkpoint",
        description="Parameter count and FLOPs per agent-round of a forest preset "
        f"({', '.join(PRESETS)}) or checkpoint folder, built on the meta device.",
    )
    inf.add_argument("target", help="a preset name or a checkpoint folder")
    inf.add_argument("--agents", type=int, default=1000, help="agents (default: %(default)s)")
    inf.add_argument("--json", action="store_true", help="print JSON instead of a table")
    inf.set_defaults(handler=info)
