# A stand-in for an application stack: it writes its configuration to a file and lists the
# URLs the workflow smoke-tests.
variable "subnet_id" {
  type = string
}

variable "env" {
  type = string
}

resource "local_file" "config" {
  filename = "${path.module}/out/${var.env}.conf"
  content  = "subnet = ${var.subnet_id}\n"
}

output "urls" {
  value = ["${var.env}.a.example", "${var.env}.b.example"]
}

output "config_file" {
  value = local_file.config.filename
}
