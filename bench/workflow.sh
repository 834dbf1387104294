#!/usr/bin/env bash
# Baton workflows vs Prefect 3 (and a plain shell loop), side by side. See bench/README.md.
#
#   bench/workflow.sh [--baton PATH] [--quick] [--cases independent,chain-sleep,chain-noop]
#                     [--reps N] [--prefect-reps N] [--parallelism LIST] [--no-prefect]
#                     [--venv DIR] [--workdir DIR] [--keep] [--timeout S] [--max-time S] [--strict]
#
# Cases (each Baton run in a fresh directory, so a fresh .baton/workflows.db; every step
# journaled, which is Baton's default and cannot be turned off):
#   independent (a)  1,000 no-op steps with no dependencies. Target: Baton >= 50x faster than Prefect.
#                    Measured twice for Baton: value steps (`outputs = {}`, nothing runs, as in
#                    Prefect's no-op task) and command steps (`true`, a /bin/sh process each).
#   chain-sleep (b)  a chain of 40 steps each running `sleep 0.01`, vs the same 40 commands in
#                    a shell loop. Target: Baton within 1.5x of the shell loop.
#   chain-noop  (c)  a chain of 100 no-op (`true`) steps. Target: under 1 ms of orchestration
#                    per step.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

all_cases="independent,chain-sleep,chain-noop"
cases=$all_cases
baton=$root/target/release/baton
reps=5
prefect_reps=3
quick=0
parallelism_list="10,50"
with_prefect=1
venv=${XDG_CACHE_HOME:-$HOME/.cache}/baton-bench/prefect3-venv
workdir=""
keep=0
cmd_timeout=600
max_time=2400
strict=0
reps_set=0
prefect_reps_set=0

usage() {
  sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

  --baton PATH        the baton binary to measure (default target/release/baton; build it with
                      `cargo build --release -p baton`)
  --quick             fewer repetitions: 3 for Baton and the shell loops, 1 for Prefect
  --cases LIST        subset of independent,chain-sleep,chain-noop (or a,b,c); default all
  --reps N            repetitions of each Baton and shell-loop measurement (default 5)
  --prefect-reps N    repetitions of each Prefect measurement (default 3)
  --parallelism LIST  Baton --parallelism values for case independent (default 10,50; 10 is
                      Baton's default; Prefect's thread pool gets the first value)
  --no-prefect        skip Prefect (no installation; ratios against Prefect are SKIP)
  --venv DIR          Prefect's virtual environment, created if missing, reused if present
                      (default ${XDG_CACHE_HOME:-~/.cache}/baton-bench/prefect3-venv)
  --workdir DIR       where workflows, run directories, Prefect's home and logs go
                      (default: mktemp -d, removed at the end unless --keep)
  --keep              keep the work directory
  --timeout S         kill any one measured command after S seconds (default 600)
  --max-time S        stop starting new repetitions after S seconds in total (default 2400);
                      cases then report the repetitions they have
  --strict            exit 1 if a command failed or a target is FAIL
EOF
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --baton) baton=${2:?--baton needs a path}; shift 2 ;;
    --baton=*) baton=${1#*=}; shift ;;
    --quick) quick=1; shift ;;
    --cases) cases=${2:?--cases needs a value}; shift 2 ;;
    --cases=*) cases=${1#*=}; shift ;;
    --reps) reps=${2:?--reps needs a value}; reps_set=1; shift 2 ;;
    --prefect-reps) prefect_reps=${2:?--prefect-reps needs a value}; prefect_reps_set=1; shift 2 ;;
    --parallelism) parallelism_list=${2:?--parallelism needs a value}; shift 2 ;;
    --no-prefect) with_prefect=0; shift ;;
    --venv) venv=${2:?--venv needs a directory}; shift 2 ;;
    --workdir) workdir=${2:?--workdir needs a directory}; shift 2 ;;
    --keep) keep=1; shift ;;
    --timeout) cmd_timeout=${2:?--timeout needs seconds}; shift 2 ;;
    --max-time) max_time=${2:?--max-time needs seconds}; shift 2 ;;
    --strict) strict=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "workflow.sh: unknown argument '$1'" >&2; usage >&2; exit 64 ;;
  esac
done
if (( quick )); then
  (( reps_set )) || reps=3
  (( prefect_reps_set )) || prefect_reps=1
fi
for v in "$reps" "$prefect_reps" "$cmd_timeout" "$max_time"; do
  [[ $v =~ ^[0-9]+$ ]] && (( v > 0 )) || { echo "workflow.sh: '$v' is not a positive integer" >&2; exit 64; }
done
IFS=, read -r -a par_list <<<"$parallelism_list"
for p in "${par_list[@]}"; do
  [[ $p =~ ^[0-9]+$ ]] && (( p > 0 )) || { echo "workflow.sh: bad --parallelism value '$p'" >&2; exit 64; }
done
IFS=, read -r -a case_in <<<"$cases"
case_list=()
for c in "${case_in[@]}"; do
  case "$c" in
    a|independent) case_list+=(independent) ;;
    b|chain-sleep) case_list+=(chain-sleep) ;;
    c|chain-noop) case_list+=(chain-noop) ;;
    *) echo "workflow.sh: unknown case '$c' (known: $all_cases, or a,b,c)" >&2; exit 64 ;;
  esac
done

# The sizes of the cases.
n_independent=1000
n_sleep=40
n_noop=100

# ---------------------------------------------------------------- prerequisites
[[ $baton == /* ]] || baton=$PWD/$baton
if [[ ! -x $baton ]]; then
  cat >&2 <<EOF
workflow.sh: no baton binary at $baton
        Build it first:   (cd $root && cargo build --release -p baton)
        or name another:  bench/workflow.sh --baton PATH
EOF
  exit 69
fi
for tool in awk timeout sort; do
  command -v "$tool" >/dev/null || { echo "workflow.sh: '$tool' is needed" >&2; exit 69; }
done
TIME=/usr/bin/time
have_time=1
if ! { [[ -x $TIME ]] && "$TIME" -f '%U %S' true >/dev/null 2>&1; }; then
  echo "workflow.sh: note: GNU time (/usr/bin/time, Debian package 'time') is missing: CPU seconds are not reported" >&2
  have_time=0
fi

if [[ -z $workdir ]]; then
  workdir=$(mktemp -d "${TMPDIR:-/tmp}/baton-wfbench.XXXXXX")
else
  mkdir -p "$workdir"; workdir=$(cd "$workdir" && pwd)
fi
cleanup() {
  if (( ! keep )); then rm -rf "$workdir"; fi
}
trap cleanup EXIT
# Snapshot the binary so that a concurrent `cargo build` cannot swap it mid-run.
mkdir -p "$workdir/bin" "$workdir/logs" "$workdir/runs"
cp "$baton" "$workdir/bin/baton"
bin=$workdir/bin/baton
results=$workdir/results.tsv
printf 'case\tvariant\trep\twall_s\tcpu_s\trc\textra\n' >"$results"
t_start=$EPOCHREALTIME

# ---------------------------------------------------------------- Prefect
py=""
prefect_version=""
setup_prefect() {
  local python=${PYTHON:-python3}
  if ! command -v "$python" >/dev/null; then
    echo "workflow.sh: python3 is needed for Prefect (apt-get install python3 python3-venv), or pass --no-prefect" >&2
    exit 69
  fi
  if [[ -x $venv/bin/python ]] && "$venv/bin/python" -c 'import prefect, sys; sys.exit(not prefect.__version__.startswith("3."))' 2>/dev/null; then
    :
  else
    if ! "$python" -m venv --help >/dev/null 2>&1; then
      cat >&2 <<'EOF'
workflow.sh: `python3 -m venv` does not work: the venv module is missing.
        On Debian/Ubuntu:  apt-get install python3-venv     (or pass --no-prefect)
EOF
      exit 69
    fi
    echo "==> installing Prefect 3 into $venv (first run only; a few minutes)"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if ! "$python" -m venv "$venv" >"$workdir/logs/venv.log" 2>&1; then
      cat "$workdir/logs/venv.log" >&2
      echo "workflow.sh: creating the virtual environment failed (ensurepip missing? apt-get install python3-venv)" >&2
      exit 69
    fi
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check -q 'prefect>=3,<4' >"$workdir/logs/pip.log" 2>&1; then
      tail -n 20 "$workdir/logs/pip.log" >&2
      echo "workflow.sh: pip install 'prefect>=3,<4' failed (log above); or pass --no-prefect" >&2
      exit 69
    fi
  fi
  py=$venv/bin/python
  prefect_version=$("$py" -c 'import prefect; print(prefect.__version__)')
  # Fully local: no API URL (so Prefect starts its own temporary server on 127.0.0.1, with
  # its SQLite database in PREFECT_HOME), no API key, no analytics. PREFECT_API_URL must be
  # unset, not empty: an empty URL makes Prefect send its events nowhere.
  unset PREFECT_API_URL PREFECT_API_KEY PREFECT_PROFILE
  export PREFECT_HOME=$workdir/prefect-template
  export PREFECT_SERVER_EPHEMERAL_ENABLED=true
  export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=300
  export PREFECT_SERVER_ANALYTICS_ENABLED=false
  export DO_NOT_TRACK=1
  mkdir -p "$PREFECT_HOME"
  # Untimed warm-up: creates and migrates the database (a template, copied for each measured
  # run), compiles the modules' bytecode.
  echo "==> Prefect warm-up (creates its database; untimed)"
  if ! timeout -k 10 "$cmd_timeout" "$py" "$here/workflow_prefect.py" chain-noop 2 \
      >"$workdir/logs/prefect-warmup.log" 2>&1; then
    tail -n 20 "$workdir/logs/prefect-warmup.log" >&2
    echo "workflow.sh: the Prefect warm-up run failed (log above)" >&2
    exit 1
  fi
  # Each measured run gets a copy of this database (see prefect_run), as each Baton run gets
  # a fresh directory: a database that grew with the earlier runs would slow the later ones.
  export PREFECT_HOME=$workdir/prefect-home
}

# ---------------------------------------------------------------- workflows
# gen_workflow CASE N DIR [value]: writes DIR/bench.baton.hcl with workflow "bench"; with
# `value`, each step is a value step (`outputs = {}`: it runs nothing) instead of a command.
gen_workflow() {
  local kind=$1 n=$2 dir=$3 body=${4:-command}
  mkdir -p "$dir"
  awk -v kind="$kind" -v n="$n" -v body="$body" 'BEGIN {
    print "workflow \"bench\" {"
    for (i = 0; i < n; i++) {
      printf "  step \"s%d\" {\n", i
      if (kind != "independent" && i > 0) printf "    depends_on = [step.s%d]\n", i - 1
      if (body == "value") printf "    outputs = {}\n  }\n"
      else printf "    command = \"%s\"\n  }\n", (kind == "chain-sleep") ? "sleep 0.01" : "true"
    }
    print "}"
  }' >"$dir/bench.baton.hcl"
}

# ---------------------------------------------------------------- measuring
failures=()
elapsed() { awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", b - a }'; }
out_of_time() { (( $(elapsed) >= max_time )); }

# measure CASE VARIANT REP LOG CMD...: runs CMD once (bounded by --timeout) and appends a row.
# Prints nothing; the command's output goes to LOG.
measure() {
  local c=$1 v=$2 rep=$3 log=$4
  shift 4
  local tf=$log.time t0 t1 rc=0 cpu=-
  t0=$EPOCHREALTIME
  if (( have_time )); then
    timeout -k 10 "$cmd_timeout" "$TIME" -o "$tf" -f '%U %S' "$@" >"$log" 2>&1 || rc=$?
  else
    timeout -k 10 "$cmd_timeout" "$@" >"$log" 2>&1 || rc=$?
  fi
  t1=$EPOCHREALTIME
  if (( have_time )) && [[ -f $tf ]]; then
    cpu=$(tail -n 1 "$tf" | awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { printf "%.3f", $1 + $2; ok = 1 } END { if (!ok) print "-" }')
  fi
  local wall; wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$v" "$rep" "$wall" "$cpu" "$rc" "" >>"$results"
  if (( rc != 0 )); then
    failures+=("$c $v rep $rep: exit $rc (log $log)")
  fi
  last_rc=$rc
}

# set_extra CASE VARIANT REP TEXT: the last column of that row.
set_extra() {
  awk -F'\t' -v OFS='\t' -v c="$1" -v v="$2" -v r="$3" -v x="$4" \
    '$1 == c && $2 == v && $3 == r { $7 = x } { print }' "$results" >"$results.tmp"
  mv "$results.tmp" "$results"
}

# baton_run CASE VARIANT REP N [ARGS...]: one `baton workflow run bench` in a fresh directory,
# then (untimed) checks that the journal holds N succeeded steps.
baton_run() {
  local c=$1 v=$2 rep=$3 n=$4
  shift 4
  local dir=$workdir/runs/$c-$v-$rep
  rm -rf "$dir"; mkdir -p "$dir"
  if [[ $v == *-value ]]; then
    cp "$workdir/workflows/$c-value/bench.baton.hcl" "$dir/"
  else
    cp "$workdir/workflows/$c/bench.baton.hcl" "$dir/"
  fi
  if [[ $v == baton-1step ]]; then gen_workflow "$c" 1 "$dir"; fi
  local log=$workdir/logs/$c-$v-$rep.log
  cd "$dir"
  measure "$c" "$v" "$rep" "$log" "$bin" workflow run bench "$@"
  cd "$workdir"
  local run_id got
  run_id=$(cd "$dir" && "$bin" runs --json 2>/dev/null | awk -F'"' '/"id":/ { id = $4 } END { print id }')
  got=$(cd "$dir" && "$bin" runs show "$run_id" --json 2>/dev/null \
        | awk '/^      "status": "succeeded"/ { k++ } END { print k + 0 }')
  set_extra "$c" "$v" "$rep" "journal=$got/$n"
  if [[ $got != "$n" ]]; then
    failures+=("$c $v rep $rep: the journal holds $got succeeded steps, expected $n ($dir)")
  fi
  if (( ! keep )); then rm -rf "$dir"; fi
}

# shell_loop CASE REP N CMD: N times `/bin/sh -c CMD`, sequentially, from one /bin/sh.
shell_loop() {
  local c=$1 rep=$2 n=$3 cmd=$4
  measure "$c" shell "$rep" "$workdir/logs/$c-shell-$rep.log" \
    /bin/sh -c 'i=0; while [ "$i" -lt "$1" ]; do /bin/sh -c "$2" || exit 1; i=$((i + 1)); done' \
    loop "$n" "$cmd"
}

# prefect_run CASE REP N: one Python process running one flow.
prefect_run() {
  local c=$1 rep=$2 n=$3 log=$workdir/logs/$1-prefect-$2.log
  rm -rf "$PREFECT_HOME"
  cp -a "$workdir/prefect-template" "$PREFECT_HOME"
  measure "$c" prefect "$rep" "$log" "$py" "$here/workflow_prefect.py" "$c" "$n" "${par_list[0]}"
  local line; line=$(grep '^RESULT ' "$log" | tail -n 1 || true)
  if [[ -z $line ]]; then
    failures+=("$c prefect rep $rep: no RESULT line (log $log)")
    return
  fi
  set_extra "$c" prefect "$rep" "${line#RESULT }"
  local nrec state
  nrec=$(sed -n 's/.* n_recorded=\([0-9]*\).*/\1/p' <<<"$line")
  state=$(sed -n 's/.* state=\([A-Z]*\).*/\1/p' <<<"$line")
  if [[ $nrec != "$n" || $state != COMPLETED ]]; then
    failures+=("$c prefect rep $rep: flow $state, $nrec of $n task runs recorded as completed (log $log)")
  fi
}

# ---------------------------------------------------------------- statistics
# st CASE VARIANT FIELD(wall|cpu|import|server|flow|recorded) WHAT(median|min|max|n)
st() {
  awk -F'\t' -v c="$1" -v v="$2" -v f="$3" -v what="$4" '
    NR > 1 && $1 == c && $2 == v && $6 == 0 {
      x = ""
      if (f == "wall") x = $4
      else if (f == "cpu") x = $5
      else { k = split($7, kv, " "); for (i = 1; i <= k; i++) { split(kv[i], p, "="); if (p[1] == f) x = p[2] } }
      if (x != "" && x != "-") a[n++] = x + 0
    }
    END {
      if (what == "n") { print n + 0; exit }
      if (n == 0) exit
      for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      if (what == "min") v = a[0]
      else if (what == "max") v = a[n - 1]
      else v = (n % 2) ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2
      printf "%.4f", v
    }' "$results"
}

row() { # CASE VARIANT LABEL [FIELD]
  local c=$1 v=$2 label=$3 f=${4:-wall}
  local n med lo hi cpu
  n=$(st "$c" "$v" "$f" n); med=$(st "$c" "$v" "$f" median)
  lo=$(st "$c" "$v" "$f" min); hi=$(st "$c" "$v" "$f" max); cpu=$(st "$c" "$v" cpu median)
  awk -v label="$label" -v n="$n" -v med="$med" -v lo="$lo" -v hi="$hi" -v cpu="$cpu" -v f="$f" 'BEGIN {
    if (med == "") { printf "  %-58s %10s\n", label, "-"; exit }
    printf "  %-58s %9.3f s  [%7.3f .. %7.3f]  n=%d  %s\n", label, med, lo, hi, n,
           (f == "wall" && cpu != "") ? sprintf("cpu %.2f s", cpu) : ""
  }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b <= 0) print ""; else printf "%.1f", a / b }'; }

n_fail=0
target_line() { # STATUS TEXT
  [[ $1 == FAIL ]] && n_fail=$((n_fail + 1))
  printf '  %-4s  %s\n' "$1" "$2"
}
targets=()

# ---------------------------------------------------------------- header
rev=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?')
echo "==> baton:   $("$bin" --version 2>/dev/null || echo '?') ($baton; this checkout at $rev)"
if (( with_prefect )); then setup_prefect; echo "==> prefect: $prefect_version ($py; temporary local server, SQLite in PREFECT_HOME=$PREFECT_HOME, a fresh copy of a migrated database for each run)"; fi
echo "==> host:    $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
echo "==> load:    $(cut -d' ' -f1-3 /proc/loadavg) (timings are noisy when this exceeds the CPU count)"
echo "==> cases=${case_list[*]} reps=$reps prefect-reps=$prefect_reps parallelism=$parallelism_list timeout=${cmd_timeout}s max-time=${max_time}s"
echo "==> workdir: $workdir$( (( keep )) || echo ' (removed at the end; --keep keeps it)')"
echo
echo "Times are the median wall seconds of the repetitions [min .. max], n = repetitions that"
echo "succeeded; cpu = median user+system seconds of the process and its children."

mkdir -p "$workdir/workflows"

# ---------------------------------------------------------------- case (a)
case_independent() {
  local c=independent n=$n_independent p rep
  gen_workflow "$c" "$n" "$workdir/workflows/$c"
  gen_workflow "$c" "$n" "$workdir/workflows/$c-value" value
  echo
  echo "(a) $n no-op steps, no dependencies between them"
  echo "    baton:   $n steps 'command = \"true\"': each spawns /bin/sh -c true and is journaled (start and outcome)"
  echo "    baton (value): $n value steps 'outputs = {}': each runs nothing and is journaled (like Prefect's task, it does nothing)"
  echo "    prefect: $n @task functions that return None, submitted at once to a ThreadPoolTaskRunner of ${par_list[0]}"
  echo "    shell:   the same $n '/bin/sh -c true' one after another, for reference"
  for rep in $(seq "$reps"); do
    out_of_time && break
    for p in "${par_list[@]}"; do baton_run "$c" "baton-p$p" "$rep" "$n" --parallelism "$p"; done
    baton_run "$c" baton-value "$rep" "$n"
    shell_loop "$c" "$rep" "$n" true
  done
  if (( with_prefect )); then
    for rep in $(seq "$prefect_reps"); do out_of_time && break; prefect_run "$c" "$rep" "$n"; done
  fi
  for p in "${par_list[@]}"; do row "$c" "baton-p$p" "baton --parallelism $p"; done
  row "$c" baton-value "baton, value steps (run nothing)"
  row "$c" shell "shell loop, sequential"
  if (( with_prefect )); then
    row "$c" prefect "prefect, whole process (python start to exit)"
    row "$c" prefect "prefect, flow until all task runs recorded" recorded
    row "$c" prefect "prefect, flow call only (server already up)" flow
    row "$c" prefect "prefect, import of the prefect module" import
    row "$c" prefect "prefect, temporary server start (before the flow)" server
  fi
  local b whole rec flw
  b=$(st "$c" "baton-p${par_list[0]}" wall median)
  whole=$(st "$c" prefect wall median); rec=$(st "$c" prefect recorded median); flw=$(st "$c" prefect flow median)
  if (( with_prefect )) && [[ -n $b && -n $rec ]]; then
    for p in "${par_list[@]}"; do
      local bp; bp=$(st "$c" "baton-p$p" wall median)
      echo "    prefect/baton (--parallelism $p): $(ratio "$rec" "$bp")x against prefect's flow-until-recorded," \
           "$(ratio "$whole" "$bp")x against its whole process, $(ratio "$flw" "$bp")x against its flow call alone"
    done
    local bv; bv=$(st "$c" baton-value wall median)
    if [[ -n $bv ]]; then
      echo "    prefect/baton (value steps): $(ratio "$rec" "$bv")x against prefect's flow-until-recorded," \
           "$(ratio "$whole" "$bv")x against its whole process, $(ratio "$flw" "$bv")x against its flow call alone"
      local rv; rv=$(ratio "$rec" "$bv")
      targets+=("$(awk -v r="$rv" 'BEGIN { print (r >= 50) ? "PASS" : "FAIL" }')|(a) $n independent no-op steps (value steps: nothing runs, as in Prefect's no-op task): Baton ${rv}x faster than Prefect's flow until its task runs are recorded (need >= 50x; baton $(printf '%.3f' "$bv") s, prefect $(printf '%.3f' "$rec") s; whole process $(ratio "$whole" "$bv")x)")
    fi
    local r; r=$(ratio "$rec" "$b")
    targets+=("$(awk -v r="$r" 'BEGIN { print (r >= 50) ? "PASS" : "FAIL" }')|(a) $n independent no-op command steps (each a /bin/sh process): Baton (--parallelism ${par_list[0]}) ${r}x faster than Prefect's flow until its task runs are recorded (need >= 50x; baton $(printf '%.3f' "$b") s, prefect $(printf '%.3f' "$rec") s; whole process $(ratio "$whole" "$b")x)")
  else
    targets+=("SKIP|(a) Baton >= 50x faster than Prefect: not measured")
  fi
}

# ---------------------------------------------------------------- case (b)
case_chain_sleep() {
  local c=chain-sleep n=$n_sleep rep
  gen_workflow "$c" "$n" "$workdir/workflows/$c"
  echo
  echo "(b) a chain of $n steps, each running 'sleep 0.01'"
  echo "    baton:   $n steps 'command = \"sleep 0.01\"', each depends_on the previous; /bin/sh -c per step"
  echo "    shell:   the same $n '/bin/sh -c \"sleep 0.01\"' one after another"
  echo "    prefect: $n chained @tasks, each subprocess.run(['/bin/sh', '-c', 'sleep 0.01']) (reference)"
  for rep in $(seq "$reps"); do
    out_of_time && break
    baton_run "$c" baton "$rep" "$n"
    shell_loop "$c" "$rep" "$n" 'sleep 0.01'
  done
  if (( with_prefect )); then
    for rep in $(seq "$prefect_reps"); do out_of_time && break; prefect_run "$c" "$rep" "$n"; done
  fi
  row "$c" baton "baton"
  row "$c" shell "shell loop"
  if (( with_prefect )); then
    row "$c" prefect "prefect, whole process (python start to exit)"
    row "$c" prefect "prefect, flow until all task runs recorded" recorded
    row "$c" prefect "prefect, flow call only (server already up)" flow
  fi
  local b s r
  b=$(st "$c" baton wall median); s=$(st "$c" shell wall median)
  r=$(ratio "$b" "$s")
  if [[ -n $r ]]; then
    echo "    baton/shell: ${r}x; per step: baton $(awk -v b="$b" -v n="$n" 'BEGIN { printf "%.1f", 1000 * b / n }') ms," \
         "shell $(awk -v s="$s" -v n="$n" 'BEGIN { printf "%.1f", 1000 * s / n }') ms"
    targets+=("$(awk -v r="$r" 'BEGIN { print (r <= 1.5) ? "PASS" : "FAIL" }')|(b) chain of $n x sleep 0.01: Baton ${r}x the shell loop (need <= 1.5x; baton $(printf '%.3f' "$b") s, shell $(printf '%.3f' "$s") s)")
  else
    targets+=("SKIP|(b) Baton within 1.5x of the shell loop: not measured")
  fi
}

# ---------------------------------------------------------------- case (c)
case_chain_noop() {
  local c=chain-noop n=$n_noop rep
  gen_workflow "$c" "$n" "$workdir/workflows/$c"
  echo
  echo "(c) a chain of $n no-op steps"
  echo "    baton:   $n steps 'command = \"true\"', each depends_on the previous (and a 1-step workflow, for the fixed cost)"
  echo "    shell:   $n '/bin/sh -c true' one after another: the steps' own work"
  echo "    prefect: $n chained @tasks that return None (reference)"
  for rep in $(seq "$reps"); do
    out_of_time && break
    baton_run "$c" baton "$rep" "$n"
    baton_run "$c" baton-1step "$rep" 1
    shell_loop "$c" "$rep" "$n" true
  done
  if (( with_prefect )); then
    for rep in $(seq "$prefect_reps"); do out_of_time && break; prefect_run "$c" "$rep" "$n"; done
  fi
  row "$c" baton "baton, $n steps"
  row "$c" baton-1step "baton, 1 step"
  row "$c" shell "shell loop"
  if (( with_prefect )); then
    row "$c" prefect "prefect, whole process (python start to exit)"
    row "$c" prefect "prefect, flow until all task runs recorded" recorded
    row "$c" prefect "prefect, flow call only (server already up)" flow
  fi
  local b b1 s
  b=$(st "$c" baton wall median); b1=$(st "$c" baton-1step wall median); s=$(st "$c" shell wall median)
  if [[ -n $b && -n $s ]]; then
    local all orch marg
    all=$(awk -v b="$b" -v n="$n" 'BEGIN { printf "%.2f", 1000 * b / n }')
    orch=$(awk -v b="$b" -v s="$s" -v n="$n" 'BEGIN { printf "%.2f", 1000 * (b - s) / n }')
    marg=$(awk -v b="$b" -v b1="$b1" -v s="$s" -v n="$n" 'BEGIN { if (b1 == "") print "-"; else printf "%.2f", 1000 * ((b - b1) / (n - 1) - s / n) }')
    echo "    per step: ${all} ms all in (baton total / $n);"
    echo "              ${orch} ms orchestration = (baton total - shell loop) / $n, Baton's start-up included;"
    echo "              ${marg} ms marginal orchestration = (baton $n steps - baton 1 step) / $((n - 1)) - shell loop / $n"
    if [[ -n $(st "$c" prefect recorded median) ]]; then
      echo "    prefect per step: $(awk -v r="$(st "$c" prefect recorded median)" -v n="$n" 'BEGIN { printf "%.2f", 1000 * r / n }') ms (flow until recorded / $n)"
    fi
    targets+=("$(awk -v o="$orch" 'BEGIN { print (o < 1) ? "PASS" : "FAIL" }')|(c) chain of $n no-op steps: ${orch} ms of orchestration per step, (baton - shell loop) / $n (need < 1 ms; marginal ${marg} ms, all in ${all} ms)")
  else
    targets+=("SKIP|(c) under 1 ms of orchestration per step: not measured")
  fi
}

for c in "${case_list[@]}"; do
  case $c in
    independent) case_independent ;;
    chain-sleep) case_chain_sleep ;;
    chain-noop) case_chain_noop ;;
  esac
  echo "    (load average now: $(cut -d' ' -f1-3 /proc/loadavg); $(elapsed) s elapsed)"
done

# ---------------------------------------------------------------- targets
echo
echo "Targets"
echo "-------"
for t in "${targets[@]}"; do target_line "${t%%|*}" "${t#*|}"; done
echo
if (( ${#failures[@]} )); then
  echo "Failed commands or checks (${#failures[@]}):"
  printf '  - %s\n' "${failures[@]}"
else
  echo "Failed commands or checks: none (every Baton journal held all its steps as succeeded;"
  echo "every Prefect flow completed with all its task runs recorded)"
fi
out_of_time && echo "Note: --max-time (${max_time}s) was reached; some repetitions were not run."
if (( keep )); then echo "Raw results: $results"; fi

if (( strict && (${#failures[@]} > 0 || n_fail > 0) )); then
  exit 1
fi
exit 0
