#!/usr/bin/env bash
# Baton vs Terraform benchmark. See bench/README.md.
#
#   bench/run.sh [--sizes 100,1000,10000] [--quick] [--shapes independent,count,layered,modules,functions]
#                [--terraform-max N] [--parallelism N] [--workdir DIR] [--no-build] [--baton PATH]
#                [--clean] [--strict]
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

sizes="100,1000,10000"
all_shapes="independent,count,layered,modules,functions"
shapes=$all_shapes
tf_max=1000
parallelism=10
workdir=""
build=1
clean=0
strict=0

usage() {
  sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

  --sizes LIST         comma-separated resource counts (default 100,1000,10000)
  --quick              smoke test: only N=100 (overrides --sizes)
  --shapes LIST        subset of independent,count,layered,modules,functions (default: all five)
  --terraform-max N    run terraform only for sizes <= N (default 1000)
  --parallelism N      -parallelism for both tools (default 10, both tools' default)
  --workdir DIR        where configurations, state and logs go (default: mktemp -d)
  --no-build           use the existing target/release-small/baton
  --baton PATH         benchmark this baton binary (implies --no-build)
  --clean              delete the work directory at the end (default: keep it)
  --strict             exit 1 if any command failed or any target is FAIL
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --sizes) sizes=${2:?--sizes needs a value}; shift 2 ;;
    --sizes=*) sizes=${1#*=}; shift ;;
    --quick) quick=1; shift ;;
    --shapes) shapes=${2:?--shapes needs a value}; shift 2 ;;
    --shapes=*) shapes=${1#*=}; shift ;;
    --terraform-max) tf_max=${2:?--terraform-max needs a value}; shift 2 ;;
    --terraform-max=*) tf_max=${1#*=}; shift ;;
    --parallelism) parallelism=${2:?--parallelism needs a value}; shift 2 ;;
    --parallelism=*) parallelism=${1#*=}; shift ;;
    --workdir) workdir=${2:?--workdir needs a value}; shift 2 ;;
    --workdir=*) workdir=${1#*=}; shift ;;
    --no-build) build=0; shift ;;
    --baton) baton_bin=${2:?--baton needs a value}; build=0; shift 2 ;;
    --baton=*) baton_bin=${1#*=}; build=0; shift ;;
    --clean) clean=1; shift ;;
    --strict) strict=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage >&2; exit 64 ;;
  esac
done
[[ ${quick:-0} -eq 1 ]] && sizes=100

IFS=, read -r -a size_list <<<"$sizes"
IFS=, read -r -a shape_list <<<"$shapes"
for n in "${size_list[@]}"; do
  [[ $n =~ ^[0-9]+$ ]] && (( n > 0 )) || { echo "run.sh: bad size '$n'" >&2; exit 64; }
done
for s in "${shape_list[@]}"; do
  case "$s" in independent|count|layered|modules|functions) ;; *) echo "run.sh: unknown shape '$s' (known: $all_shapes)" >&2; exit 64 ;; esac
done

# ---------------------------------------------------------------- prerequisites
TIME=/usr/bin/time
if [[ ! -x $TIME ]]; then
  cat >&2 <<'EOF'
run.sh: /usr/bin/time is missing; it is needed to measure peak memory (RSS).
        Install Debian's `time` package:   sudo apt-get install -y time
        (the bash builtin `time` cannot report memory.)
EOF
  exit 69
fi
if ! "$TIME" -f '%e %M' true >/dev/null 2>&1; then
  echo "run.sh: $TIME does not accept -f '%e %M' (not GNU time?); install Debian's 'time' package." >&2
  exit 69
fi
have_tf=1
if ! command -v terraform >/dev/null 2>&1; then
  echo "run.sh: WARNING: terraform not found on PATH; running Baton only." >&2
  have_tf=0
fi

export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

# ---------------------------------------------------------------- build
# The memory-tuned build (the `release-small` profile and the `small` feature; see Cargo.toml):
# the benchmark measures what a CLI user gets from it. `--baton target/release/baton` measures
# the default release build.
baton=${baton_bin:-$root/target/release-small/baton}
[[ $baton == /* ]] || baton=$PWD/$baton
if (( build )); then
  echo "==> cargo build --profile release-small -p baton --features small"
  (cd "$root" && cargo build --profile release-small -p baton --features small)
fi
[[ -x $baton ]] || { echo "run.sh: $baton not found (build failed or --no-build without a build)" >&2; exit 1; }

if [[ -z $workdir ]]; then
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/baton-bench.XXXXXX")
else
  mkdir -p "$workdir"; workdir=$(cd "$workdir" && pwd)
fi
# Snapshot the binary so that a concurrent `cargo build` cannot swap it mid-run.
mkdir -p "$workdir/bin"
cp "$baton" "$workdir/bin/baton"
baton=$workdir/bin/baton
results=$workdir/results.tsv
printf 'n\tshape\top\ttool\twall_s\ttime_e_s\tmaxrss_kb\trc\tlog\n' >"$results"

rev=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?')
dirty=$(cd "$root" && git status --porcelain --untracked-files=no 2>/dev/null | grep -c . || true)
if [[ -n ${baton_bin:-} ]]; then
  origin="given with --baton: $baton_bin"
else
  origin="built from commit $rev$( (( ${dirty:-0} > 0 )) && echo " + $dirty modified tracked file(s)")"
fi
echo "==> baton:     $("$baton" --version 2>/dev/null || echo '?'), $origin, snapshot $baton"
if (( have_tf )); then
  echo "==> terraform: $(command -v terraform) ($(terraform version 2>/dev/null | head -1))"
fi
echo "==> host:      $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
echo "==> load:      $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-min load average; timings are noisy if this exceeds the CPU count)"
echo "==> sizes=$sizes shapes=$shapes terraform-max=$tf_max parallelism=$parallelism"
echo "==> workdir:   $workdir (configurations, state, per-command logs, results.tsv)"
echo

ops=(validate plan_norefresh apply plan_noop destroy)
declare -A op_label=(
  [validate]="validate"
  [plan_norefresh]="plan -refresh=false (empty)"
  [apply]="apply (from empty)"
  [plan_noop]="plan (no-op, refresh)"
  [destroy]="destroy"
)

cmdline() { # tool op -> prints the argv, one per line
  local tool=$1 op=$2 p=$parallelism
  if [[ $tool == baton ]]; then
    case $op in
      validate)       printf '%s\n' "$baton" validate ;;
      plan_norefresh) printf '%s\n' "$baton" plan --refresh=false --parallelism "$p" ;;
      apply)          printf '%s\n' "$baton" apply --auto-approve --parallelism "$p" ;;
      plan_noop)      printf '%s\n' "$baton" plan --parallelism "$p" ;;
      destroy)        printf '%s\n' "$baton" destroy --auto-approve --parallelism "$p" ;;
    esac
  else
    case $op in
      validate)       printf '%s\n' terraform validate -no-color ;;
      plan_norefresh) printf '%s\n' terraform plan -refresh=false -input=false -no-color "-parallelism=$p" ;;
      apply)          printf '%s\n' terraform apply -auto-approve -input=false -no-color "-parallelism=$p" ;;
      plan_noop)      printf '%s\n' terraform plan -input=false -no-color "-parallelism=$p" ;;
      destroy)        printf '%s\n' terraform destroy -auto-approve -input=false -no-color "-parallelism=$p" ;;
    esac
  fi
}

failures=()   # "n shape tool op rc log"
anomalies=()  # free text

# measure N SHAPE TOOL OP DIR: runs one command under /usr/bin/time, appends to results.tsv
measure() {
  local n=$1 shape=$2 tool=$3 op=$4 dir=$5
  local log=$workdir/logs/$shape-$n-$tool-$op.log tf=$workdir/logs/$shape-$n-$tool-$op.time
  local -a argv; mapfile -t argv < <(cmdline "$tool" "$op")
  mkdir -p "$workdir/logs"
  echo "\$ (cd $dir && ${argv[*]})" >"$log"
  local t0 t1 rc=0
  t0=$EPOCHREALTIME
  (cd "$dir" && "$TIME" -o "$tf" -f '%e %M' "${argv[@]}") >>"$log" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  local e m
  # GNU time writes "Command exited with non-zero status N" before the format line on failure.
  read -r e m < <(tail -n 1 "$tf" 2>/dev/null || echo "- -")
  [[ $m =~ ^[0-9]+$ ]] || m=-
  local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$shape" "$op" "$tool" "$wall" "$e" "$m" "$rc" "$log" >>"$results"
  if (( rc != 0 )); then
    failures+=("$n $shape $tool $op rc=$rc $log")
  fi
  return 0
}

# lookup N SHAPE OP TOOL FIELD(wall|rss|rc) -> value or empty
lookup() {
  awk -F'\t' -v n="$1" -v s="$2" -v o="$3" -v t="$4" -v f="$5" '
    NR > 1 && $1 == n && $2 == s && $3 == o && $4 == t {
      if (f == "wall") v = $5; else if (f == "rss") v = $7; else if (f == "rc") v = $8
    }
    END { if (v != "") print v }' "$results"
}

fmt_row() { # N SHAPE OP
  local n=$1 s=$2 o=$3
  local bw br brc tw tr trc
  bw=$(lookup "$n" "$s" "$o" baton wall); br=$(lookup "$n" "$s" "$o" baton rss); brc=$(lookup "$n" "$s" "$o" baton rc)
  tw=$(lookup "$n" "$s" "$o" terraform wall); tr=$(lookup "$n" "$s" "$o" terraform rss); trc=$(lookup "$n" "$s" "$o" terraform rc)
  awk -v n="$n" -v s="$s" -v o="${op_label[$o]}" -v bw="$bw" -v br="$br" -v brc="$brc" \
      -v tw="$tw" -v tr="$tr" -v trc="$trc" '
    function secs(w, rc) { if (w == "") return "-"; return sprintf("%.3f%s", w, (rc != "" && rc != 0) ? "!" : "") }
    function mb(k) { if (k == "" || k == "-") return "-"; return sprintf("%.1f", k / 1024) }
    BEGIN {
      ratio = "-"; mratio = "-"
      if (bw != "" && tw != "" && bw > 0) ratio = sprintf("%.1fx", tw / bw)
      if (br != "" && tr != "" && br != "-" && tr != "-" && br > 0) mratio = sprintf("%.1fx", tr / br)
      if (tw == "") { tws = "skipped"; trs = "skipped" } else { tws = secs(tw, trc); trs = mb(tr) }
      printf "%6s  %-11s  %-27s %10s %10s %8s %10s %10s %8s\n", n, s, o, secs(bw, brc), tws, ratio, mb(br), trs, mratio
    }'
}

print_header() {
  printf "%6s  %-11s  %-27s %10s %10s %8s %10s %10s %8s\n" N shape operation "baton s" "tf s" "tf/baton" "baton MB" "tf MB" "tf/baton"
  printf '%s\n' "$(printf '%.0s-' {1..112})"
}

# state_count TOOL DIR -> number of resource instances in state (untimed sanity check)
state_count() {
  if [[ $1 == baton ]]; then
    (cd "$2" && "$baton" state list 2>/dev/null | grep -c . ) || true
  else
    (cd "$2" && terraform state list 2>/dev/null | grep -c . ) || true
  fi
}

# expected_instances SHAPE N -> resource instances gen.sh writes (layered and modules round
# N down to a multiple of 10)
expected_instances() {
  case $1 in
    layered|modules) echo $(( $2 / 10 * 10 )) ;;
    *) echo "$2" ;;
  esac
}

check_sanity() { # N SHAPE TOOL DIR PHASE
  local n=$1 shape=$2 tool=$3 dir=$4 phase=$5 want got
  case $phase in
    after_apply) want=$(expected_instances "$shape" "$n") ;;
    after_destroy) want=0 ;;
  esac
  got=$(state_count "$tool" "$dir"); got=${got:-0}
  if [[ $got != "$want" ]]; then
    anomalies+=("$tool $shape N=$n: $got instances in state $phase (expected $want)")
  fi
}

# check_outputs N SHAPE DIR_BATON DIR_TF: after apply, `baton output --json` must equal
# `terraform output -json` (compared after `jq -S .` when jq is installed, else byte for byte)
check_outputs() {
  local n=$1 shape=$2 bdir=$3 tdir=$4 out=$workdir/logs/$2-$1-outputs
  (cd "$bdir" && "$baton" output --json) >"$out.baton.json" 2>&1 || true
  (cd "$tdir" && terraform output -json) >"$out.terraform.json" 2>&1 || true
  if command -v jq >/dev/null 2>&1; then
    jq -S . "$out.baton.json" >"$out.baton.norm" 2>&1 || true
    jq -S . "$out.terraform.json" >"$out.terraform.norm" 2>&1 || true
  else
    cp "$out.baton.json" "$out.baton.norm"; cp "$out.terraform.json" "$out.terraform.norm"
  fi
  if ! cmp -s "$out.baton.norm" "$out.terraform.norm"; then
    anomalies+=("$shape N=$n: 'baton output --json' differs from 'terraform output -json' after apply (diff $out.baton.norm $out.terraform.norm)")
  fi
}

check_noop() { # N SHAPE TOOL
  local log=$workdir/logs/$2-$1-$3-plan_noop.log
  if [[ -f $log ]] && ! grep -q "No changes" "$log"; then
    anomalies+=("$3 $2 N=$1: the plan after apply did not say 'No changes' (see $log)")
  fi
}

# ---------------------------------------------------------------- run
echo "Results (one line per operation as it completes; '!' = non-zero exit; ratios are terraform/baton)"
echo
print_header

for n in "${size_list[@]}"; do
  for shape in "${shape_list[@]}"; do
    case_dir=$workdir/$shape-$n
    "$here/gen.sh" "$shape" "$n" "$case_dir/baton"
    run_tf=0
    if (( have_tf && n <= tf_max )); then
      run_tf=1
      "$here/gen.sh" "$shape" "$n" "$case_dir/terraform"
      if ! (cd "$case_dir/terraform" && terraform init -input=false -no-color) >"$case_dir/terraform-init.log" 2>&1; then
        echo "run.sh: terraform init failed in $case_dir/terraform (see $case_dir/terraform-init.log); skipping terraform for this case" >&2
        anomalies+=("terraform init failed for $shape N=$n: $case_dir/terraform-init.log")
        run_tf=0
      fi
    fi
    for op in "${ops[@]}"; do
      measure "$n" "$shape" baton "$op" "$case_dir/baton"
      if (( run_tf )); then measure "$n" "$shape" terraform "$op" "$case_dir/terraform"; fi
      if [[ $op == apply ]]; then
        check_sanity "$n" "$shape" baton "$case_dir/baton" after_apply
        if (( run_tf )); then
          check_sanity "$n" "$shape" terraform "$case_dir/terraform" after_apply
          check_outputs "$n" "$shape" "$case_dir/baton" "$case_dir/terraform"
        fi
      fi
      if [[ $op == destroy ]]; then
        check_sanity "$n" "$shape" baton "$case_dir/baton" after_destroy
        if (( run_tf )); then check_sanity "$n" "$shape" terraform "$case_dir/terraform" after_destroy; fi
      fi
      fmt_row "$n" "$shape" "$op"
    done
    check_noop "$n" "$shape" baton
    if (( run_tf )); then check_noop "$n" "$shape" terraform; fi
    printf '%s   (load average now: %s)\n' "$(printf '%.0s-' {1..80})" "$(cut -d' ' -f1-3 /proc/loadavg)"
  done
done

# ---------------------------------------------------------------- large-N comparison
largest_tf_n() { # SHAPE -> largest N with a terraform apply measurement
  awk -F'\t' -v s="$1" 'NR > 1 && $2 == s && $3 == "apply" && $4 == "terraform" && $8 == 0 && $1 + 0 > m { m = $1 + 0 } END { if (m) print m }' "$results"
}
big_printed=0
for n in "${size_list[@]}"; do
  if (( have_tf && n <= tf_max )); then continue; fi
  if (( ! big_printed )); then
    echo
    echo "Sizes above --terraform-max ($tf_max): Baton absolute numbers vs Terraform at the largest measured N"
    big_printed=1
  fi
  for shape in "${shape_list[@]}"; do
    ref=$(largest_tf_n "$shape")
    for op in "${ops[@]}"; do
      bw=$(lookup "$n" "$shape" "$op" baton wall); br=$(lookup "$n" "$shape" "$op" baton rss); brc=$(lookup "$n" "$shape" "$op" baton rc)
      tw=""; tr=""
      [[ -n $ref ]] && { tw=$(lookup "$ref" "$shape" "$op" terraform wall); tr=$(lookup "$ref" "$shape" "$op" terraform rss); }
      awk -v n="$n" -v s="$shape" -v o="${op_label[$op]}" -v bw="$bw" -v br="$br" -v brc="$brc" -v ref="$ref" -v tw="$tw" -v tr="$tr" '
        BEGIN {
          b = (bw == "") ? "-" : sprintf("%.3f s%s", bw, (brc != 0) ? " (FAILED)" : "")
          m = (br == "" || br == "-") ? "-" : sprintf("%.1f MB", br / 1024)
          cmp = ""
          if (ref != "" && tw != "") cmp = sprintf("   | terraform N=%s: %.3f s, %.1f MB (baton at %sx the size is %.1fx faster)", ref, tw, tr / 1024, n / ref, (bw > 0) ? tw / bw : 0)
          printf "  N=%-6s %-11s %-27s baton %14s %10s%s\n", n, s, o, b, m, cmp
        }'
    done
  done
done

# ---------------------------------------------------------------- targets
echo
echo "Targets"
echo "-------"
n_fail=0
target_line() { # STATUS TEXT
  if [[ $1 == FAIL ]]; then n_fail=$((n_fail + 1)); fi
  printf '  %-4s  %s\n' "$1" "$2"
}
ratio_target() { # N SHAPE OP FIELD(wall|rss) MIN NAME
  local n=$1 s=$2 o=$3 f=$4 min=$5 name=$6 b t brc trc
  b=$(lookup "$n" "$s" "$o" baton "$f"); t=$(lookup "$n" "$s" "$o" terraform "$f")
  brc=$(lookup "$n" "$s" "$o" baton rc); trc=$(lookup "$n" "$s" "$o" terraform rc)
  if [[ -z $b || -z $t || $b == - || $t == - ]]; then
    target_line SKIP "$name [$s N=$n]: not measured"; return
  fi
  if [[ $brc != 0 || $trc != 0 ]]; then
    target_line FAIL "$name [$s N=$n]: command failed (baton rc=$brc, terraform rc=$trc)"; return
  fi
  local unit=s; [[ $f == rss ]] && unit=MB
  local out; out=$(awk -v b="$b" -v t="$t" -v min="$min" -v f="$f" 'BEGIN {
      if (f == "rss") { b /= 1024; t /= 1024 }
      r = (b > 0) ? t / b : 1e9
      printf "%s %.1f %.3f %.3f", (r >= min) ? "PASS" : "FAIL", r, b, t }')
  local st r bv tv; read -r st r bv tv <<<"$out"
  target_line "$st" "$name [$s N=$n]: ${r}x (need >= ${min}x; baton $bv $unit, terraform $tv $unit)"
}
mem_target() { # N SHAPE: every operation's peak RSS <= 1/10 of terraform's; reports the worst op
  local n=$1 s=$2 worst="" worst_op="" b t o any=0
  for o in "${ops[@]}"; do
    b=$(lookup "$n" "$s" "$o" baton rss); t=$(lookup "$n" "$s" "$o" terraform rss)
    [[ -z $b || -z $t || $b == - || $t == - ]] && continue
    any=1
    r=$(awk -v b="$b" -v t="$t" 'BEGIN { printf "%.2f", t / b }')
    if [[ -z $worst ]] || awk -v a="$r" -v w="$worst" 'BEGIN { exit !(a < w) }'; then worst=$r; worst_op=$o; fi
  done
  if (( ! any )); then target_line SKIP "memory <= 1/10 of terraform [$s N=$n]: not measured"; return; fi
  b=$(lookup "$n" "$s" "$worst_op" baton rss); t=$(lookup "$n" "$s" "$worst_op" terraform rss)
  local st; st=$(awk -v r="$worst" 'BEGIN { print (r >= 10) ? "PASS" : "FAIL" }')
  target_line "$st" "$(awk -v s="$s" -v n="$n" -v r="$worst" -v o="${op_label[$worst_op]}" -v b="$b" -v t="$t" 'BEGIN {
      printf "memory <= 1/10 of terraform [%s N=%s]: worst op \"%s\" %.1fx (baton %.1f MB, terraform %.1f MB)", s, n, o, r, b / 1024, t / 1024 }')"
}

# Which targets apply to which shape: apply = apply speed-up >= 20x at N=1000; plan = both
# plans >= 10x at N=1000; memory = every operation's RSS <= 1/10 of terraform's at N=1000;
# big = baton apply at N=10000 faster than terraform apply at N=1000.
declare -A shape_targets=(
  [independent]="apply plan memory big"
  [count]="apply plan memory big"
  [layered]="apply plan memory big"
  [modules]="plan"
  [functions]="plan"
)
has_target() { [[ " ${shape_targets[$1]} " == *" $2 "* ]]; }

target_n=1000
have_target_n=0
for n in "${size_list[@]}"; do [[ $n == "$target_n" ]] && have_target_n=1; done
if (( have_target_n )); then
  for s in "${shape_list[@]}"; do
    if has_target "$s" apply; then ratio_target $target_n "$s" apply wall 20 "apply ratio >= 20x"; fi
    if has_target "$s" plan; then
      ratio_target $target_n "$s" plan_norefresh wall 10 "plan (-refresh=false, from empty) ratio >= 10x"
      ratio_target $target_n "$s" plan_noop wall 10 "plan (no-op, refresh) ratio >= 10x"
    fi
    if has_target "$s" memory; then mem_target $target_n "$s"; fi
  done
else
  target_line SKIP "N=$target_n targets: N=$target_n not in --sizes"
fi
have_10k=0
for n in "${size_list[@]}"; do [[ $n == 10000 ]] && have_10k=1; done
if (( have_10k )); then
  for s in "${shape_list[@]}"; do
    has_target "$s" big || continue
    b=$(lookup 10000 "$s" apply baton wall); brc=$(lookup 10000 "$s" apply baton rc)
    t=$(lookup 1000 "$s" apply terraform wall); trc=$(lookup 1000 "$s" apply terraform rc)
    if [[ -z $b || -z $t ]]; then
      target_line SKIP "baton apply N=10000 < terraform apply N=1000 [$s]: not measured (needs sizes 1000 and 10000)"
    elif [[ $brc != 0 || $trc != 0 ]]; then
      target_line FAIL "baton apply N=10000 < terraform apply N=1000 [$s]: command failed (baton rc=$brc, terraform rc=$trc)"
    else
      st=$(awk -v b="$b" -v t="$t" 'BEGIN { print (b < t) ? "PASS" : "FAIL" }')
      target_line "$st" "baton apply N=10000 < terraform apply N=1000 [$s]: baton $(printf '%.3f' "$b") s vs terraform $(printf '%.3f' "$t") s"
    fi
  done
else
  target_line SKIP "baton apply N=10000 < terraform apply N=1000: N=10000 not in --sizes"
fi

# ---------------------------------------------------------------- failures and anomalies
echo
if (( ${#failures[@]} )); then
  echo "Failed commands (${#failures[@]}):"
  for f in "${failures[@]}"; do
    read -r fn fs ft fo frc flog <<<"$f"
    echo "  $ft ${op_label[$fo]} [$fs N=$fn] $frc — log: $flog"
    tail -n 15 "$flog" | sed 's/^/      | /'
  done
else
  echo "Failed commands: none"
fi
if (( ${#anomalies[@]} )); then
  echo "Anomalies (${#anomalies[@]}):"
  printf '  - %s\n' "${anomalies[@]}"
else
  echo "Anomalies: none"
fi
echo
echo "Raw results: $results"

if (( clean )); then
  rm -rf "$workdir"
  echo "(work directory removed: --clean)"
fi

if (( strict && (${#failures[@]} > 0 || n_fail > 0) )); then
  exit 1
fi
exit 0
