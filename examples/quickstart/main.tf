# Baton quick start: a few objects with dependencies between them, files on disk, and outputs.
# Run it with:  cargo run --release -p baton -- --chdir examples/quickstart apply --auto-approve

variable "greeting" {
  type        = string
  default     = "Hello"
  description = "How to greet each team."
}

variable "teams" {
  type    = set(string)
  default = ["platform", "payments", "search"]
}

locals {
  out_dir = "${path.module}/out"
}

# One object per team, keyed by name.
resource "terraform_data" "team" {
  for_each = var.teams
  input = {
    name    = each.key
    message = "${var.greeting}, ${each.key}!"
  }
}

# A file per team, written from the objects above.
resource "local_file" "greeting" {
  for_each        = terraform_data.team
  filename        = "${local.out_dir}/${each.key}.txt"
  content         = "${each.value.output.message}\n"
  file_permission = "0644"
}

# An index of every file, after all of them exist.
resource "local_file" "index" {
  filename = "${local.out_dir}/index.txt"
  content = join("", [
    for name in sort(tolist(var.teams)) : "${name}: ${local_file.greeting[name].filename}\n"
  ])
}

output "files" {
  value = sort([for f in local_file.greeting : f.filename])
}

output "index_sha1" {
  value = local_file.index.content_sha1
}
