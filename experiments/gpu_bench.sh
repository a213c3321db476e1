#!/usr/bin/env bash
# The forest round on a GPU, in bf16 next to fp32 (speed-up, share of actions unchanged, clean
# play): the shipped small forest from 1,000 to 100,000 agents, and the article's model shape
# (preset llama-3.2-3b: Llama 3.2 3B's encoder, random weights, no download) at 1,000 agents
# against the article's 320 ms per round.
#
#     experiments/gpu_bench.sh [OUT_DIR]        # default: results/gpu_bench
#
# PYTHON (default .venv/bin/python) needs a CUDA build of torch with this package installed;
# the Makefile's venv holds the CPU wheel. Without a GPU the script stops with one line, exit 2.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
OUT_DIR=${1:-results/gpu_bench}
ARTICLE_MS=320

if ! "$PYTHON" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    echo "gpu_bench.sh: $PYTHON sees no CUDA GPU (torch.cuda.is_available() is False); nothing measured" >&2
    exit 2
fi
mkdir -p "$OUT_DIR"
bench() { "$PYTHON" -m forest.cli bench --device cuda --dtype bf16 --dense-agents "" --threads 8 --json "$@"; }

bench --checkpoint checkpoints/small --agents 1000,10000,100000 >"$OUT_DIR/small.json"
# Random weights play no better in fp32 than in bf16: a short episode only checks that it runs.
bench --preset llama-3.2-3b --agents 1000 --play-rounds 3 --play-seeds 1 >"$OUT_DIR/llama-3.2-3b.json"

"$PYTHON" - "$OUT_DIR" "$ARTICLE_MS" <<'PY'
import json
import sys
from pathlib import Path

out, article_ms = Path(sys.argv[1]), float(sys.argv[2])
for name in ("small", "llama-3.2-3b"):
    report = json.loads((out / f"{name}.json").read_text())
    for row in report["rows"]:
        line = (
            f"{name:>12} {row['dtype']} {row['agents']:>7,} agents: {row['median_ms']:9.1f} ms, "
            f"{row['gflop_per_s']:9.0f} GFLOP/s, efficiency {row['efficiency']:.2f}, "
            f"GPU peak {row['peak_device_mb']:,.0f} MB"
        )
        if row["action_agreement"] is not None:
            line += f", {row['speedup_vs_fp32']:.2f}x fp32, {row['action_agreement']:.1%} as fp32"
        if name == "llama-3.2-3b":
            line += f"; the article: {article_ms:.0f} ms ({row['median_ms'] / article_ms:.2f}x)"
        print(line)
    play = report["play"]
    fp32, bf16 = play["fp32"], play["bf16"]
    print(
        f"{name:>12} clean play ({play['agents']:,} agents, {play['rounds']} rounds, "
        f"{play['seeds']} seeds): completion {fp32['task_completion']:.4f} fp32, "
        f"{bf16['task_completion']:.4f} bf16; welfare {fp32['welfare']:.4f}, {bf16['welfare']:.4f}"
    )
print(f"reports: {out}/small.json, {out}/llama-3.2-3b.json")
PY
