# A stand-in for a network stack: a subnet id derived from the CIDR it is given.
variable "cidr" {
  type = string
}

resource "terraform_data" "subnet" {
  input = var.cidr
}

output "subnet_id" {
  value = "subnet-${substr(sha256(var.cidr), 0, 8)}"
}
