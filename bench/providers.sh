#!/usr/bin/env bash
# Baton vs Terraform driving the same provider plugin. See bench/README.md, "Provider plugins".
#
#   bench/providers.sh [--size N] [--runs K] [--parallelism P] [--workdir DIR] [--no-build]
#
# Both tools run the workspace's `batontest` plugin (a real plugin executable speaking protocol 6;
# its own work per call is the same whichever client calls it) on one generated configuration of
# N `batontest_thing` resources, each with a nested block and a sensitive attribute, found through
# `dev_overrides` (no download). Timed, K runs each, side by side: plan from empty state, apply,
# plan after apply (refresh of N objects and a no-change plan), destroy. Prints each tool's
# median wall time, CPU time (user+sys of the tool and its provider processes) and the ratio.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

size=1000
runs=3
parallelism=10
workdir=""
build=1

while [[ $# -gt 0 ]]; do
  case "$1" in
    --size) size=${2:?--size needs a value}; shift 2 ;;
    --runs) runs=${2:?--runs needs a value}; shift 2 ;;
    --parallelism) parallelism=${2:?--parallelism needs a value}; shift 2 ;;
    --workdir) workdir=${2:?--workdir needs a value}; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "providers.sh: unknown argument '$1'" >&2; exit 64 ;;
  esac
done
[[ $size =~ ^[0-9]+$ ]] && (( size > 0 )) || { echo "providers.sh: bad --size '$size'" >&2; exit 64; }
[[ $runs =~ ^[0-9]+$ ]] && (( runs > 0 )) || { echo "providers.sh: bad --runs '$runs'" >&2; exit 64; }
command -v terraform >/dev/null || { echo "providers.sh: terraform is not on PATH" >&2; exit 1; }
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "providers.sh: GNU time is missing (apt-get install -y time)" >&2; exit 1; }

if (( build )); then
  echo "building baton (release-small) and the test provider (release)..." >&2
  (cd "$root" && cargo build -q --profile release-small -p baton --features small \
     && cargo build -q --release -p baton-test-provider)
fi
baton_src=$root/target/release-small/baton
provider_src=$root/target/release/terraform-provider-batontest
[[ -x $baton_src && -x $provider_src ]] || { echo "providers.sh: build first (missing $baton_src or $provider_src)" >&2; exit 1; }

[[ -n $workdir ]] || workdir=$(mktemp -d -t baton-bench-providers.XXXXXX)
mkdir -p "$workdir/bin" "$workdir/plugins"
cp "$baton_src" "$workdir/bin/baton"
cp "$provider_src" "$workdir/plugins/terraform-provider-batontest"
baton=$workdir/bin/baton

cat >"$workdir/cli.tfrc" <<EOF
provider_installation {
  dev_overrides {
    "example.com/baton/batontest" = "$workdir/plugins"
  }
  direct {}
}
EOF
export TF_CLI_CONFIG_FILE=$workdir/cli.tfrc CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

gen() {
  local dir=$1
  mkdir -p "$dir"
  {
    printf 'terraform {\n  required_providers {\n    batontest = { source = "example.com/baton/batontest" }\n  }\n}\n\n'
    printf 'resource "batontest_thing" "t" {\n  count  = %d\n  name   = "t${count.index}"\n  secret = "s${count.index}"\n  tag {\n    key   = "index"\n    value = tostring(count.index)\n  }\n}\n\n' "$size"
    printf 'output "ids" { value = length(batontest_thing.t[*].id) }\n'
  } >"$dir/main.tf"
}

# measure NAME DIR CMD...: appends "name wall cpu" to results; fails loudly on a failed command.
results=$workdir/results.tsv
: >"$results"
measure() {
  local name=$1 dir=$2; shift 2
  local log=$workdir/$name.log
  (cd "$dir" && $TIME -f '%e %U %S' -o "$workdir/time.tmp" "$@" >"$log" 2>&1) || {
    echo "providers.sh: '$*' failed in $dir; see $log" >&2; tail -20 "$log" >&2; exit 1; }
  read -r wall user sys <"$workdir/time.tmp"
  printf '%s\t%s\t%s\n' "$name" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')" >>"$results"
}

for ((r = 1; r <= runs; r++)); do
  echo "run $r of $runs (N=$size, parallelism $parallelism)..." >&2
  tfdir=$workdir/tf-$r; bdir=$workdir/baton-$r
  rm -rf "$tfdir" "$bdir"; gen "$tfdir"; gen "$bdir"
  measure "terraform plan" "$tfdir" terraform plan -parallelism="$parallelism" -input=false
  measure "baton plan" "$bdir" "$baton" plan --parallelism "$parallelism"
  measure "terraform apply" "$tfdir" terraform apply -parallelism="$parallelism" -auto-approve -input=false
  measure "baton apply" "$bdir" "$baton" apply --parallelism "$parallelism" --auto-approve
  measure "terraform refresh+plan" "$tfdir" terraform plan -parallelism="$parallelism" -input=false
  measure "baton refresh+plan" "$bdir" "$baton" plan --parallelism "$parallelism"
  measure "terraform destroy" "$tfdir" terraform destroy -parallelism="$parallelism" -auto-approve -input=false
  measure "baton destroy" "$bdir" "$baton" destroy --parallelism "$parallelism" --auto-approve
  # Both must have made and removed the same N objects.
  grep -q "Resources: $size added" "$workdir/terraform apply.log"
  grep -q "Resources: $size added" "$workdir/baton apply.log"
done

median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
col() { awk -F'\t' -v n="$1" -v c="$2" '$1==n{print $c}' "$results" | median; }

printf '\nProvider plugins, N=%d batontest_thing (protocol 6), parallelism %d, median of %d runs\n\n' "$size" "$parallelism" "$runs"
printf '%-16s %10s %10s %8s %10s %10s %8s\n' operation "tf wall" "baton wall" ratio "tf cpu" "baton cpu" ratio
for op in plan apply refresh+plan destroy; do
  tw=$(col "terraform $op" 2); bw=$(col "baton $op" 2)
  tc=$(col "terraform $op" 3); bc=$(col "baton $op" 3)
  printf '%-16s %9ss %9ss %7sx %9ss %9ss %7sx\n' "$op" "$tw" "$bw" \
    "$(awk -v a="$tw" -v b="$bw" 'BEGIN{ printf "%.1f", (b > 0 ? a/b : 0) }')" "$tc" "$bc" \
    "$(awk -v a="$tc" -v b="$bc" 'BEGIN{ printf "%.1f", (b > 0 ? a/b : 0) }')"
done
printf '\nratio = terraform / baton (higher is better for Baton). Work directory: %s\n' "$workdir"
