#!/usr/bin/env bash
# A suite's wall time at two versions of the code, side by side on this machine, and whether
# every figure is identical:
#     bash experiments/suite_before_after.sh BEFORE_REV AFTER_REV SUITE [SEEDS] [WORKERS]
# e.g. bash experiments/suite_before_after.sh 2fc195f HEAD experiments/suites/defense_matrix.toml 1
# Each revision is cloned from this repository into a temporary folder and runs the suite (its
# seed count cut to SEEDS, default all) with --workers WORKERS (default 2), after version
# first, one at a time so that they never share the CPU; then experiments/compare_suite_runs.py
# compares them. Run it from the repository root, inside .venv.
set -euo pipefail
before=$1 after=$2 suite=$3 seeds=${4:-} workers=${5:-2}
root=$(pwd)
work=$(mktemp -d)
echo "working in $work"
for which in after before; do
  rev=$([ "$which" = before ] && echo "$before" || echo "$after")
  git clone -q "$root" "$work/$which"
  git -C "$work/$which" checkout -q "$(git rev-parse "$rev")"
  cp "$suite" "$work/$which/suite.toml"
  if [ -n "$seeds" ]; then sed -i "s/^seeds = .*/seeds = $seeds/" "$work/$which/suite.toml"; fi
  cd "$work/$which"
  start=$(date +%s.%N)
  PYTHONPATH="$work/$which" redteam run suite.toml --workers "$workers" \
    --tracking-uri "sqlite:///$work/$which/mlflow.db" --out "$work/$which/results" > "$work/$which.log" 2>&1
  echo "$(date +%s.%N) - $start" | bc > "$work/$which/results/wall_seconds"
  cd "$root"
done
python experiments/compare_suite_runs.py "$work/before/results" "$work/after/results"
