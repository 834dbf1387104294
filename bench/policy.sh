#!/usr/bin/env bash
# The cost of the policy gate: `baton plan` over N resource changes (default 10000) without
# policies, then with 10 policies (the 4 in examples/policies and the 6 in bench/policies),
# best of R runs each; prints the overhead. The peer tools for Rego (`opa eval`, `conftest`)
# are timed on the same plan JSON and policies when they are on PATH.
#
#   bench/policy.sh [--n N] [--runs R] [--baton PATH] [--workdir DIR] [--terraform]
#
# --terraform also times `terraform plan -refresh=false` on the same configuration (once; it
# takes a minute at N=10000) and prints the gate's cost relative to it.
# Target (issue 5): the gate adds under 10% to a plan.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
n=10000
runs=3
baton=""
work=""
with_tf=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --n) n=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --baton) baton=$2; shift 2 ;;
    --workdir) work=$2; shift 2 ;;
    --terraform) with_tf=1; shift ;;
    *) echo "usage: $0 [--n N] [--runs R] [--baton PATH] [--workdir DIR]" >&2; exit 64 ;;
  esac
done
if [[ -z "$baton" ]]; then
  (cd "$root" && cargo build --release -q -p baton)
  baton="$root/target/release/baton"
fi
baton=$(cd "$(dirname "$baton")" && pwd)/$(basename "$baton")
if [[ -z "$work" ]]; then
  work=$(mktemp -d /tmp/baton-policy-bench.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"

"$here/gen.sh" independent "$n" "$work/cfg" >/dev/null
pol="$work/policies"
rm -rf "$pol" && mkdir -p "$pol"
for d in "$root"/examples/policies/*/; do
  name=$(basename "$d")
  mkdir -p "$pol/$name"
  find "$d" -maxdepth 1 -type f \( -name '*.rego' ! -name '*_test.rego' -o -name '*.json' -o -name '*.yaml' \) -exec cp {} "$pol/$name/" \;
done
cp "$here"/policies/*.rego "$pol/"
npol=$(find "$pol" -name '*.rego' | wc -l)

# Best wall time (seconds) of $runs runs of a command; exit codes 0 and 4 (denied) count.
best() {
  local best_t="" t rc
  for _ in $(seq "$runs"); do
    local start end
    start=$(date +%s.%N)
    set +e
    "$@" >/dev/null 2>"$work/err"
    rc=$?
    set -e
    end=$(date +%s.%N)
    if [[ $rc -ne 0 && $rc -ne 4 ]]; then
      echo "command failed ($rc): $*" >&2
      cat "$work/err" >&2
      exit 1
    fi
    t=$(echo "$end - $start" | bc -l)
    if [[ -z "$best_t" ]] || (( $(echo "$t < $best_t" | bc -l) )); then best_t=$t; fi
  done
  printf '%.3f' "$best_t"
}

cd "$work/cfg"
plain=$(best "$baton" plan --refresh=false)
gated=$(best "$baton" plan --refresh=false --policy "$pol")
# The findings, for the record (and to show the gate really ran).
set +e
"$baton" plan --refresh=false --policy "$pol" --json >"$work/plan-with-policy.json" 2>/dev/null
set -e
findings=$(jq '.policy.findings | length' "$work/plan-with-policy.json" 2>/dev/null || echo "?")
outcome=$(jq -r '.policy.outcome' "$work/plan-with-policy.json" 2>/dev/null || echo "?")
gate=$(echo "$gated - $plain" | bc -l)
pct=$(echo "100 * $gate / $plain" | bc -l)

printf '\nPolicy gate benchmark: %d resource changes, %d policies (%s), best of %d\n\n' "$n" "$npol" "$pol" "$runs"
printf '  %-44s %8s s\n' "baton plan (no policies)" "$plain"
printf '  %-44s %8s s\n' "baton plan + policy gate" "$gated"
printf '  %-44s %8.3f s  (%.1f%% of the plan; %s findings, outcome %s)\n' "gate" "$gate" "$pct" "$findings" "$outcome"

# Peers, when installed: the same policies over the same plan JSON.
"$baton" plan --refresh=false --json >"$work/plan.json" 2>/dev/null || true
peer_ran=0
if command -v opa >/dev/null 2>&1; then
  t=$(best opa eval --format json -d "$pol" -i "$work/plan.json" 'data')
  printf '  %-44s %8s s  (baton gate / opa = %.2f)\n' "opa eval (same policies, same plan)" "$t" "$(echo "$gate / $t" | bc -l)"
  peer_ran=1
fi
if command -v conftest >/dev/null 2>&1; then
  t=$(best conftest test --all-namespaces -p "$pol" "$work/plan.json")
  printf '  %-44s %8s s  (baton gate / conftest = %.2f)\n' "conftest test (same policies, same plan)" "$t" "$(echo "$gate / $t" | bc -l)"
  peer_ran=1
fi
if [[ $peer_ran -eq 0 ]]; then
  echo "  (opa and conftest are not installed here; the gate is compared with the plan time only)"
fi

export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
if [[ $with_tf -eq 1 ]]; then
  if command -v terraform >/dev/null 2>&1; then
    terraform init -input=false >/dev/null
    start=$(date +%s.%N)
    terraform plan -refresh=false -input=false >/dev/null
    end=$(date +%s.%N)
    tf=$(echo "$end - $start" | bc -l)
    printf '  %-44s %8.3f s  (the gate is %.1f%% of it)\n' "terraform plan -refresh=false (1 run)" "$tf" "$(echo "100 * $gate / $tf" | bc -l)"
  else
    echo "  (terraform is not installed: no Terraform plan time)"
  fi
fi

echo
if (( $(echo "$pct < 10" | bc -l) )); then
  printf '  PASS  gate adds under 10%% to the plan: %.1f%%\n' "$pct"
else
  printf '  FAIL  gate adds under 10%% to the plan: %.1f%%\n' "$pct"
fi
printf '  (the gate alone: %.1f ms per 1000 resource changes for %d policies)\n' "$(echo "1000 * $gate * 1000 / $n" | bc -l)" "$npol"
