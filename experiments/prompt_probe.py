"""Where in SmolLM2 do an agent's numbers live? A linear probe of its prompt's states.

    python experiments/prompt_probe.py [--economy supply_chain] [--agents 60] [--rounds 8]
        [--layers 5,10,20,30] [--language-model models/smollm2-135m] [--out results/probe]

Renders expert rounds of an economy as the pretrained forest's prompts, runs SmolLM2 over them
once, and for every observation feature asks how well a ridge regression (4-fold cross-validated
R^2) reads the feature's value back from (a) the mean state over the whole prompt and (b) the
state at the last token of that feature's value, at each of ``--layers``. This is what chose the
pretrained forest's input: per-token states from the first 10 layers, not one mean of layer 30.
Writes ``probe.json``, ``probe.md`` and ``probe.png``. Needs the imported LM (``make
pretrained``); about five minutes for the default size on two cores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import cross_val_score

from forest.economy import economy_class, economy_names, make_economy
from forest.errors import ForestError
from forest.pretrained.language_model import DEFAULT_DIR, load_language_model
from forest.pretrained.prompts import PromptTokenizer, render_prompts, render_value

ALPHAS = np.logspace(-2, 4, 13)


def value_end_token(prompt: str, offsets: np.ndarray, name: str, value: float) -> int:
    """Index of the token holding the last character of ``name value`` in ``prompt``."""
    fact = f"{name} {render_value(value)}"
    end = prompt.index(fact) + len(fact)
    return int(np.nonzero((offsets[:, 1] <= end) & (offsets[:, 1] > offsets[:, 0]))[0][-1])


def probe_r2(features: np.ndarray, target: np.ndarray) -> float:
    return float(cross_val_score(RidgeCV(alphas=ALPHAS), features, target, cv=4).mean())


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    economy = make_economy(args.economy, seed=0, n_agents=args.agents)
    names = list(economy_class(args.economy).observation_names)
    prompts, observations = [], []
    for _ in range(args.rounds):
        prompts += render_prompts(economy)
        observations.append(economy.observe())
        economy.step(*economy.expert())
    values = np.concatenate(observations)  # (agents * rounds, features)

    language_model = load_language_model(args.language_model)
    if max(args.layers) > language_model.config.num_hidden_layers:
        raise ForestError(
            f"--layers: the LM has {language_model.config.num_hidden_layers} layers, "
            f"asked for {max(args.layers)}"
        )
    tokenizer = PromptTokenizer.load(args.language_model).tokenizer
    batch = tokenizer(prompts, padding="longest", return_tensors="pt", return_offsets_mapping=True)
    offsets = batch["offset_mapping"].numpy()
    mask = batch["attention_mask"]
    hidden: list[list[torch.Tensor]] = []
    with torch.no_grad():
        for start in range(0, len(prompts), 32):
            part = slice(start, start + 32)
            out = language_model(
                input_ids=batch["input_ids"][part],
                attention_mask=mask[part],
                output_hidden_states=True,
                use_cache=False,
            )
            hidden.append([out.hidden_states[layer] for layer in args.layers])
    weights = mask.unsqueeze(-1).float()
    rows = []
    for j, name in enumerate(names):
        target = values[:, j]
        if np.ptp(target) == 0:
            continue  # constant in these rounds: nothing to read back
        spoken = name.replace("_", " ")
        positions = [
            value_end_token(p, offsets[i], spoken, target[i]) for i, p in enumerate(prompts)
        ]
        row = {"feature": name}
        for k, layer in enumerate(args.layers):
            states = torch.cat([chunk[k] for chunk in hidden])  # (N, T, H)
            mean = ((states * weights).sum(1) / weights.sum(1)).numpy()
            at_value = states[torch.arange(len(prompts)), positions].numpy()
            row[f"mean_{layer}"] = probe_r2(mean, target)
            row[f"value_token_{layer}"] = probe_r2(at_value, target)
        rows.append(row)
        print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in row.items() if k != "feature"))
    return {"economy": args.economy, "prompts": len(prompts), "layers": args.layers, "rows": rows}


def write_report(result: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe.json").write_text(json.dumps(result, indent=2))
    layers = result["layers"]
    header = ["feature"] + [f"{kind} L{layer}" for layer in layers for kind in ("mean", "value")]
    lines = [
        f"Probe R^2 (4-fold CV ridge), {result['economy']}, {result['prompts']} prompts",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in result["rows"]:
        cells = [
            f"{row[f'{kind}_{layer}']:.2f}" for layer in layers for kind in ("mean", "value_token")
        ]
        lines.append("| " + " | ".join([row["feature"], *cells]) + " |")
    (out / "probe.md").write_text("\n".join(lines) + "\n")

    figure, axis = plt.subplots(figsize=(6, 3.5))
    for kind, label in (("value_token", "state at the value's last token"), ("mean", "mean")):
        medians = [np.median([r[f"{kind}_{layer}"] for r in result["rows"]]) for layer in layers]
        axis.plot(layers, medians, marker="o", label=label)
    axis.set_xlabel("SmolLM2 layer")
    axis.set_ylabel("median probe R^2 over features")
    axis.set_ylim(-1, 1.05)
    axis.set_title(f"Reading numbers back from prompt states ({result['economy']})")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "probe.png", dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--economy", default="supply_chain", choices=economy_names())
    parser.add_argument("--agents", type=int, default=60, help="(default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=8, help="(default: %(default)s)")
    parser.add_argument(
        "--layers",
        default="5,10,20,30",
        help="comma-separated LM layers to probe (default: %(default)s)",
    )
    parser.add_argument("--language-model", default=str(DEFAULT_DIR))
    parser.add_argument("--out", default="results/probe", help="(default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        args.layers = sorted({int(x) for x in args.layers.split(",")})
    except ValueError:
        parser.error(f"--layers: expected integers separated by commas, got {args.layers!r}")
    if args.layers[0] < 1:
        parser.error("--layers: layers count from 1")
    if args.agents < 10 or args.rounds < 1 or args.agents * args.rounds < 40:
        parser.error("--agents/--rounds: need at least 10 agents and 40 prompts for a 4-fold fit")
    try:
        result = run(args)
    except ForestError as err:
        print(f"prompt_probe: error: {err}", file=sys.stderr)
        return 2
    write_report(result, Path(args.out))
    print(f"wrote {args.out}/probe.md, probe.json, probe.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
