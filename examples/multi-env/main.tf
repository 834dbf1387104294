# A three-layer layout — network, compute, app — instantiated per environment.
#
#   baton --env dev  apply --var-file envs/dev.tfvars  --auto-approve
#   baton --env prod apply --var-file envs/prod.tfvars --auto-approve
#
# Each environment has its own state (.baton/envs/NAME/state.db) and writes its files under
# out/NAME/. `terraform.workspace` is the environment's name.

variable "cidr" {
  type        = string
  description = "The address range of the environment's network."
}

variable "subnets" {
  type        = number
  default     = 2
  description = "How many subnets to carve out of the network."

  validation {
    condition     = var.subnets >= 1 && var.subnets <= 8
    error_message = "subnets must be between 1 and 8."
  }
}

variable "services" {
  description = "The services to run, with their replica counts."
  type = map(object({
    replicas = number
    port     = optional(number, 8080)
  }))
}

locals {
  env     = terraform.workspace
  out_dir = "${path.root}/out/${local.env}"
}

module "network" {
  source  = "./modules/network"
  name    = "net-${local.env}"
  cidr    = var.cidr
  subnets = var.subnets
}

module "compute" {
  source   = "./modules/compute"
  for_each = var.services

  name     = each.key
  replicas = each.value.replicas
  subnets  = module.network.subnet_cidrs
}

module "app" {
  source    = "./modules/app"
  env       = local.env
  out_dir   = local.out_dir
  services  = { for name, s in var.services : name => s.port }
  instances = { for name, c in module.compute : name => c.instances }
}

output "network" {
  value = {
    name    = module.network.name
    subnets = module.network.subnet_cidrs
  }
}

output "instances" {
  value = { for name, c in module.compute : name => length(c.instances) }
}

output "manifest" {
  value = module.app.manifest_path
}
