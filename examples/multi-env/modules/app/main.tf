variable "env" { type = string }
variable "out_dir" { type = string }
variable "services" { type = map(number) }
variable "instances" { type = any }

# One config file per service, and a manifest of everything.
resource "local_file" "service" {
  for_each = var.services
  filename = "${var.out_dir}/${each.key}.json"
  content = jsonencode({
    env      = var.env
    service  = each.key
    port     = each.value
    backends = [for i in var.instances[each.key] : "${i.ip}:${each.value}"]
  })
  file_permission = "0644"
}

resource "local_file" "manifest" {
  filename        = "${var.out_dir}/manifest.txt"
  file_permission = "0644"
  content = join("\n", concat(
    ["environment: ${var.env}"],
    [for name, f in local_file.service : "${name}: ${f.filename} (${f.content_sha1})"],
  ))
}

output "manifest_path" {
  value = local_file.manifest.filename
}
