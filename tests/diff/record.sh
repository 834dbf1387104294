#!/usr/bin/env bash
# Records what the real `terraform` does for every differential case under
# tests/fixtures/diff/ into the case's expected.json (see tests/diff/README.md).
#
#   tests/diff/record.sh                 re-record every case
#   tests/diff/record.sh 042 ext-sub     re-record the cases whose name contains a word
#   tests/diff/record.sh --check         verify every expected.json is up to date
#
# Each case runs in a temporary copy: nothing (.terraform, state, plans) is left in
# the fixture directories. Cases run two at a time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fixtures="$(cd "$here/../fixtures/diff" && pwd)"

if ! command -v terraform >/dev/null 2>&1; then
    echo "record.sh: \`terraform\` is not installed (or not on PATH); it is needed to record the expectations" >&2
    exit 2
fi
command -v jq >/dev/null 2>&1 || { echo "record.sh: \`jq\` is needed" >&2; exit 2; }

export TF_CLI_CONFIG_FILE=/dev/null
export TF_IN_AUTOMATION=1
export CHECKPOINT_DISABLE=1
unset TF_CLI_ARGS TF_WORKSPACE TF_DATA_DIR || true
# No TF_VAR_* from the caller's environment may leak into a case.
for v in $(env | sed -n 's/^\(TF_VAR_[^=]*\)=.*/\1/p'); do unset "$v"; done

# read_args FILE: the case's extra CLI args, one per line, in terraform's single-dash form.
read_args() {
    local f="$1" line
    [[ -f "$f" ]] || return 0
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        printf '%s\n' "${line/#--/-}"
    done <"$f"
}

# first_error LOG: the summary line of terraform's first error, as a JSON string.
first_error() {
    local msg
    # (init's own summary line comes first when the configuration cannot be loaded)
    msg="$(grep -E '^(│ )?Error: ' "$1" | grep -v 'Terraform encountered problems during initiali' |
        head -n 1 | sed -E 's/^(│ )?Error: //' || true)"
    [[ -n "$msg" ]] || msg="$(tail -n 3 "$1" | tr '\n' ' ')"
    # Terraform names a cycle's members in a random order: keep the recording stable.
    if [[ "$msg" == Cycle:* ]]; then
        msg="Cycle: $(sed 's/^Cycle: //; s/, /\n/g' <<<"$msg" | LC_ALL=C sort | paste -sd, - | sed 's/,/, /g')"
    fi
    jq -Rn --arg m "$msg" '$m'
}

# nest: indents JSON text by one level (for embedding at depth 1), keeping it byte-for-byte.
nest() { sed '2,$s/^/  /'; }

# step DIR ARGSFILE N: plan + show + apply + output in DIR; prints the step's JSON object,
# with the key paths of the plan's `show -json` (keypaths.jq) once the plan succeeded.
# Numbers in outputs are copied as terraform printed them (jq 1.6 would round them).
step() {
    local dir="$1" argsfile="$2" n="$3" args=() actions keypaths outputs state
    mapfile -t args < <(read_args "$argsfile")
    if ! (cd "$dir" && terraform plan -input=false -no-color -out="plan$n" ${args[@]+"${args[@]}"}) >"$dir/log.plan$n" 2>&1; then
        printf '{\n  "outcome": "error",\n  "phase": "plan",\n  "error": %s,\n  "state": %s\n}' \
            "$(first_error "$dir/log.plan$n")" "$(state_list "$dir" | nest)"
        return
    fi
    (cd "$dir" && terraform show -json "plan$n") >"$dir/show$n.json"
    actions="$(jq -S '[(.resource_changes // [])[] | select(.change.actions != ["no-op"]) | {key: .address, value: .change.actions}] | from_entries' "$dir/show$n.json")"
    keypaths="$(jq -f "$here/keypaths.jq" "$dir/show$n.json")"
    if ! (cd "$dir" && terraform apply -input=false -no-color -auto-approve "plan$n") >"$dir/log.apply$n" 2>&1; then
        printf '{\n  "outcome": "error",\n  "phase": "apply",\n  "error": %s,\n  "actions": %s,\n  "state": %s,\n  "key_paths": %s\n}' \
            "$(first_error "$dir/log.apply$n")" "$(nest <<<"$actions")" "$(state_list "$dir" | nest)" "$(nest <<<"$keypaths")"
        return
    fi
    outputs="$(cd "$dir" && terraform output -no-color -json)"
    printf '{\n  "outcome": "ok",\n  "actions": %s,\n  "outputs": %s,\n  "key_paths": %s\n}' \
        "$(nest <<<"$actions")" "$(nest <<<"$outputs")" "$(nest <<<"$keypaths")"
}

# state_list DIR: the resource instances in the state, as a JSON array.
state_list() {
    (cd "$1" && terraform state list 2>/dev/null || true) | jq -R . | jq -s -S 'sort'
}

# record_one CASE_DIR OUT_FILE
record_one() {
    local case="$1" out="$2" tmp first second valid
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/baton-diff-record.XXXXXX")"
    trap 'rm -rf "$tmp"' RETURN
    cp -R "$case/." "$tmp/"
    rm -f "$tmp/expected.json" "$tmp/args" "$tmp/args2" "$tmp/env"
    (
        set -a
        if [[ -f "$case/env" ]]; then
            while IFS= read -r line || [[ -n "$line" ]]; do
                [[ -z "$line" || "$line" == \#* ]] && continue
                export "${line?}"
            done <"$case/env"
        fi
        set +a
        if ! (cd "$tmp" && terraform init -input=false -no-color) >"$tmp/log.init" 2>&1; then
            # Baton has no init step: a configuration terraform cannot even load fails Baton's plan.
            printf '{\n  "validate": false,\n  "outcome": "error",\n  "phase": "plan",\n  "error": %s,\n  "state": []\n}\n' "$(first_error "$tmp/log.init")" >"$out"
            return
        fi
        # Whether `terraform validate` accepts the configuration (Baton's must agree).
        if (cd "$tmp" && terraform validate -no-color) >"$tmp/log.validate" 2>&1; then
            valid=true
        else
            valid=false
        fi
        first="$(step "$tmp" "$case/args" 1)"
        # Spliced in as the first key, keeping the rest byte for byte.
        first="$(printf '{\n  "validate": %s,\n%s' "$valid" "${first#$'{\n'}")"
        if [[ -f "$case/args2" ]] && jq -e '.outcome == "ok"' >/dev/null <<<"$first"; then
            second="$(step "$tmp" "$case/args2" 2)"
            # Splice the second step in as a nested object.
            printf '%s,\n  "step2": %s\n}\n' "${first%$'\n}'}" "$(nest <<<"$second")" >"$out"
        else
            printf '%s\n' "$first" >"$out"
        fi
    )
}

if [[ "${1:-}" == "--one" ]]; then
    # Internal: record_one for xargs.
    record_one "$2" "$3"
    exit 0
fi

check=0
filters=()
for a in "$@"; do
    case "$a" in
        --check) check=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) filters+=("$a") ;;
    esac
done

cases=()
for d in "$fixtures"/*/; do
    name="$(basename "$d")"
    if ((${#filters[@]})); then
        keep=0
        for f in "${filters[@]}"; do [[ "$name" == *"$f"* ]] && keep=1; done
        ((keep)) || continue
    fi
    cases+=("$name")
done
((${#cases[@]})) || { echo "record.sh: no case matches" >&2; exit 2; }

outdir="$(mktemp -d "${TMPDIR:-/tmp}/baton-diff-out.XXXXXX")"
trap 'rm -rf "$outdir"' EXIT
printf '%s\n' "${cases[@]}" |
    xargs -P 2 -I{} "$0" --one "$fixtures/{}" "$outdir/{}.json"

failed=()
for name in "${cases[@]}"; do
    if [[ ! -s "$outdir/$name.json" ]] || ! jq -e . >/dev/null 2>&1 <"$outdir/$name.json"; then
        echo "record.sh: recording $name produced no valid JSON" >&2
        failed+=("$name")
        continue
    fi
    if ((check)); then
        if ! cmp -s "$outdir/$name.json" "$fixtures/$name/expected.json"; then
            failed+=("$name")
            diff -u "$fixtures/$name/expected.json" "$outdir/$name.json" | head -n 20 >&2 || true
        fi
    else
        cp "$outdir/$name.json" "$fixtures/$name/expected.json"
    fi
done

if ((check)); then
    if ((${#failed[@]})); then
        echo "record.sh --check: ${#failed[@]} case(s) differ from terraform's behaviour (re-record with tests/diff/record.sh):" >&2
        printf '  %s\n' "${failed[@]}" >&2
        exit 1
    fi
    echo "record.sh --check: ${#cases[@]} case(s) up to date"
else
    if ((${#failed[@]})); then
        printf 'record.sh: failed: %s\n' "${failed[@]}" >&2
        exit 1
    fi
    echo "record.sh: recorded ${#cases[@]} case(s)"
fi
