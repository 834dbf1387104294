#!/usr/bin/env bash
# Generate one benchmark configuration.
#
#   bench/gen.sh SHAPE N DIR
#
# SHAPE is one of:
#   independent  N separate `resource "terraform_data"` blocks with distinct inputs
#                (r_0 .. r_{N-1}); the harder case: N blocks to parse, N graph nodes.
#   count        one `resource "terraform_data" "r"` block with `count = N`
#                (N instances expanded from one block).
#   layered      10 layers of N/10 resources (l0_0 .. l9_{N/10-1}); every resource in
#                layer L>0 references one resource of layer L-1
#                (input = "lL_I<-${terraform_data.l{L-1}_J.output}"), so apply/destroy
#                must respect a 10-deep dependency chain. N must be a multiple of 10
#                (it is rounded down otherwise).
#
# DIR is created if needed; existing *.tf files in it are removed first. Files hold at most
# 1000 resource blocks each (main_000.tf, main_001.tf, ...). The output is identical for
# Baton and Terraform: plain HCL using only the builtin terraform_data resource.
set -euo pipefail

usage() { echo "usage: $0 {independent|count|layered} N DIR" >&2; exit 64; }
[[ $# -eq 3 ]] || usage
shape=$1 n=$2 dir=$3
[[ $n =~ ^[0-9]+$ ]] && (( n > 0 )) || { echo "gen.sh: N must be a positive integer, got '$n'" >&2; exit 64; }

mkdir -p "$dir"
rm -f "$dir"/*.tf

per_file=1000

case "$shape" in
  independent)
    awk -v n="$n" -v dir="$dir" -v per="$per_file" 'BEGIN {
      for (i = 0; i < n; i++) {
        f = sprintf("%s/main_%03d.tf", dir, int(i / per))
        printf "resource \"terraform_data\" \"r_%d\" {\n  input = \"value-%d\"\n}\n\n", i, i > f
      }
    }'
    ;;
  count)
    cat > "$dir/main_000.tf" <<HCL
resource "terraform_data" "r" {
  count = $n
  input = "value-\${count.index}"
}
HCL
    ;;
  layered)
    layers=10
    (( n >= layers )) || { echo "gen.sh: layered needs N >= $layers" >&2; exit 64; }
    awk -v n="$n" -v layers="$layers" -v dir="$dir" -v per="$per_file" 'BEGIN {
      m = int(n / layers)        # resources per layer
      k = 0
      for (l = 0; l < layers; l++) {
        for (i = 0; i < m; i++) {
          f = sprintf("%s/main_%03d.tf", dir, int(k / per)); k++
          if (l == 0) {
            printf "resource \"terraform_data\" \"l0_%d\" {\n  input = \"l0_%d\"\n}\n\n", i, i > f
          } else {
            # spread references over the previous layer (a permutation when m is coprime
            # with 7919; otherwise some predecessors are shared, which is fine).
            j = (i * 7919 + l) % m
            printf "resource \"terraform_data\" \"l%d_%d\" {\n  input = \"l%d_%d<-${terraform_data.l%d_%d.output}\"\n}\n\n", l, i, l, i, l - 1, j > f
          }
        }
      }
    }'
    ;;
  *) usage ;;
esac
