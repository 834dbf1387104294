variable "name" { type = string }
variable "replicas" { type = number }
variable "subnets" { type = list(string) }

# Instances are spread over the subnets round-robin.
resource "terraform_data" "instance" {
  count = var.replicas
  input = {
    name   = "${var.name}-${count.index}"
    subnet = element(var.subnets, count.index)
    ip     = cidrhost(element(var.subnets, count.index), 10 + floor(count.index / length(var.subnets)))
  }
}

output "instances" {
  value = [for i in terraform_data.instance : i.output]
}
