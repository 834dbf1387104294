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
#   modules      nested local modules, 3 levels: the root calls ./modules/mid with
#                for_each over N/10 keys (m0000 .. ); each mid instance calls
#                ../leaf once, and each leaf instance holds one terraform_data block
#                with count = 10. Inputs go down as objects/maps (object-typed
#                variables with optional() attributes, merge()d tags), outputs come up
#                (leaf -> mid -> root) and the root outputs aggregate module.mid with
#                `for` expressions. N counts the terraform_data instances: N/10 module
#                instances x 10; N must be a multiple of 10 (rounded down otherwise).
#   functions    N separate `resource "terraform_data" "f_I"` blocks (not count), each
#                with an object input of ~20 attributes computed with built-in
#                functions (format, join, split, regex replace, lower/upper,
#                jsonencode/jsondecode, sha256, base64encode, cidrsubnet, merge, lookup,
#                flatten, distinct, sort, zipmap, range, element, length, coalesce, try,
#                a heredoc template with a %{for} directive, a `for` expression over a
#                map local) and the local `shared`, itself computed with functions, that
#                every resource references. Locals in locals.tf, outputs in outputs.tf
#                (a sample of resources and a sha256 over all N outputs).
#
# DIR is created if needed; existing *.tf files in it are removed first. Files hold at most
# 1000 resource blocks each (main_000.tf, main_001.tf, ...). The output is identical for
# Baton and Terraform: plain HCL using only the builtin terraform_data resource.
set -euo pipefail

usage() { echo "usage: $0 {independent|count|layered|modules|functions} N DIR" >&2; exit 64; }
[[ $# -eq 3 ]] || usage
shape=$1 n=$2 dir=$3
[[ $n =~ ^[0-9]+$ ]] && (( n > 0 )) || { echo "gen.sh: N must be a positive integer, got '$n'" >&2; exit 64; }

mkdir -p "$dir"
rm -f "$dir"/*.tf
rm -rf "$dir/modules"

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
  modules)
    leaf_per=10
    (( n >= leaf_per )) || { echo "gen.sh: modules needs N >= $leaf_per" >&2; exit 64; }
    mkdir -p "$dir/modules/mid" "$dir/modules/leaf"
    # Root: a literal map of N/10 instance settings (a local, as a real root module would
    # hold them; literal rather than range() because cty's range() stops at 1024 values).
    awk -v n="$n" -v per="$leaf_per" 'BEGIN {
      m = int(n / per)
      split("eu-west-1 us-east-1 ap-south-1", regions, " ")
      print "locals {"
      print "  base_tags = { project = \"bench\", owner = \"platform\" }"
      print "  instances = {"
      for (i = 0; i < m; i++)
        printf "    m%05d = { index = %d, region = \"%s\", size = %d }\n", i, i, regions[i % 3 + 1], per
      print "  }"
      print "}"
    }' > "$dir/locals.tf"
    cat > "$dir/main.tf" <<'HCL'
module "mid" {
  source   = "./modules/mid"
  for_each = local.instances

  name = each.key
  settings = {
    index  = each.value.index
    region = each.value.region
    size   = each.value.size
    tags   = merge(local.base_tags, { instance = each.key })
  }
}

output "values" {
  description = "Every leaf resource's name, per mid instance"
  value       = { for k, m in module.mid : k => m.values }
}

output "summary" {
  value = {
    instances = length(module.mid)
    resources = length(flatten([for m in module.mid : m.values]))
    regions   = sort(distinct([for m in module.mid : m.region]))
    first     = [for k, m in module.mid : m.prefix if m.index == 0]
  }
}
HCL
    cat > "$dir/modules/mid/main.tf" <<'HCL'
variable "name" {
  type = string
}

variable "settings" {
  type = object({
    index  = number
    region = string
    size   = optional(number, 10)
    tags   = map(string)
  })
}

locals {
  prefix = "${var.name}-${var.settings.region}"
}

module "leaf" {
  source = "../leaf"

  config = {
    prefix = local.prefix
    size   = var.settings.size
    labels = merge(var.settings.tags, {
      region = var.settings.region
      parity = var.settings.index % 2 == 0 ? "even" : "odd"
    })
  }
}

output "values" {
  value = module.leaf.values
}

output "region" {
  value = var.settings.region
}

output "index" {
  value = var.settings.index
}

output "prefix" {
  value = local.prefix
}
HCL
    cat > "$dir/modules/leaf/main.tf" <<'HCL'
variable "config" {
  type = object({
    prefix = string
    size   = number
    labels = map(string)
  })
}

resource "terraform_data" "r" {
  count = var.config.size
  input = {
    name   = "${var.config.prefix}-${count.index}"
    labels = var.config.labels
  }
}

output "values" {
  value = [for r in terraform_data.r : r.output.name]
}
HCL
    ;;
  functions)
    cat > "$dir/locals.tf" <<'HCL'
variable "env" {
  type    = string
  default = "Prod"
}

locals {
  env           = lower(var.env)
  prefix        = format("%s-%s", "baton", local.env)
  base_cidr     = "10.0.0.0/8"
  regions       = ["EU-West-1", "US-East-1", "AP-South-1"]
  zones         = sort(distinct(flatten([for r in local.regions : [for z in ["a", "b", "a"] : "${lower(r)}${z}"]])))
  common_tags   = { Env = local.env, Owner = "platform", CostCenter = "cc-42" }
  settings_json = jsonencode({ owner = "team-json", retries = 3, regions = local.regions })
  tiers         = { "0" = "gold", "1" = "silver", "2" = "bronze" }
  optional      = { k0 = "zero", k2 = "two", k4 = "four" }
  maybe_owner   = ""
  labels        = { app = "bench", team = "core", skip = "x" }

  # Computed with functions and referenced by every resource.
  shared = {
    fingerprint = substr(sha256(jsonencode(local.common_tags)), 0, 16)
    zone_list   = join(",", local.zones)
    subnets     = [for i in range(4) : cidrsubnet(local.base_cidr, 8, i)]
    upper_env   = upper(local.env)
    tag_keys    = sort(keys(local.common_tags))
  }
}
HCL
    awk -v n="$n" -v dir="$dir" -v per="$per_file" '
      { tmpl = tmpl $0 "\n" }
      END {
        for (i = 0; i < n; i++) {
          f = sprintf("%s/main_%03d.tf", dir, int(i / per))
          b = tmpl; gsub(/@I@/, i, b)
          printf "%s\n", b > f
        }
      }' <<'HCL'
resource "terraform_data" "f_@I@" {
  input = {
    name     = format("%s-%05d", local.prefix, @I@)
    path     = join("/", [local.env, lower(element(local.regions, @I@)), "svc-@I@"])
    parts    = split("-", "alpha-beta-gamma-@I@")
    slug     = lower(replace("Service_@I@.Example--Name", "/[^a-zA-Z0-9]+/", "-"))
    code     = upper("svc-${@I@ % 10}")
    doc      = jsonencode({ id = @I@, tags = local.common_tags, zone = element(local.zones, @I@) })
    owner    = jsondecode(local.settings_json).owner
    digest   = sha256("resource-@I@-${local.shared.fingerprint}")
    payload  = base64encode("payload-@I@")
    subnet   = cidrsubnet(local.base_cidr, 16, @I@)
    tags     = merge(local.common_tags, { Index = "@I@", Name = format("f-%d", @I@) })
    tier     = lookup(local.tiers, tostring(@I@ % 4), "standard")
    zones    = distinct(sort(flatten([local.zones, [element(local.zones, @I@)], ["z-${@I@ % 3}"]])))
    ports    = zipmap([for p in range(3) : "p${p}"], [for p in range(3) : 8000 + @I@ % 100 + p])
    steps    = range(@I@ % 5)
    width    = length(local.zones) + length(split(",", local.shared.zone_list))
    contact  = coalesce(local.maybe_owner, "team-${@I@ % 7}")
    optional = try(local.optional[format("k%d", @I@ % 5)], "none")
    rendered = <<-EOT
      %{ for k, v in local.labels ~}
      ${k}=${v}-@I@
      %{ endfor ~}
    EOT
    labels   = { for k, v in local.labels : upper(k) => "${v}-@I@" if k != "skip" }
    shared   = local.shared.fingerprint
  }
}
HCL
    awk -v n="$n" 'BEGIN {
      print "output \"shared\" {\n  value = local.shared\n}\n"
      printf "output \"sample\" {\n  value = {\n    first  = terraform_data.f_0.output\n    middle = terraform_data.f_%d.output\n    last   = terraform_data.f_%d.output\n  }\n}\n\n", int(n / 2), n - 1
      print "# One sha256 over every resource output: any per-resource difference shows here."
      print "output \"digest\" {\n  value = sha256(jsonencode(["
      for (i = 0; i < n; i++) printf "    terraform_data.f_%d.output,\n", i
      print "  ]))\n}"
    }' > "$dir/outputs.tf"
    ;;
  *) usage ;;
esac
