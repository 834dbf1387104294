variable "name" { type = string }
variable "cidr" { type = string }
variable "subnets" { type = number }

resource "terraform_data" "network" {
  input = {
    name = var.name
    cidr = var.cidr
  }
}

resource "terraform_data" "subnet" {
  count = var.subnets
  input = {
    network = terraform_data.network.output.name
    cidr    = cidrsubnet(var.cidr, 8, count.index)
  }
}

output "name" {
  value = terraform_data.network.output.name
}

output "subnet_cidrs" {
  value = terraform_data.subnet[*].output.cidr
}
