# shell_script wrapping a real command-line tool: git. Each entry of var.repos becomes a bare
# git repository with a description; Baton creates, reads (drift), updates and deletes them
# through the commands below, and a JSON object printed on stdout becomes `output`.
#
#   baton --chdir examples/shell-git apply --auto-approve
#   baton --chdir examples/shell-git output --json repos

variable "repos" {
  type = map(string)
  default = {
    app   = "Application code"
    infra = "Infrastructure definitions"
  }
}

locals {
  # Prints the repository's state as JSON; prints nothing when it does not exist (gone).
  describe = <<-EOT
    [ -d "$DIR/$NAME.git" ] || exit 0
    head=$(git --git-dir "$DIR/$NAME.git" symbolic-ref HEAD)
    desc=$(cat "$DIR/$NAME.git/description")
    printf '{"path": "%s", "head": "%s", "description": "%s"}\n' "$DIR/$NAME.git" "$head" "$desc"
  EOT
}

resource "shell_script" "repo" {
  for_each = var.repos

  lifecycle_commands {
    create = <<-EOT
      set -e
      mkdir -p "$DIR"
      git init --quiet --bare "$DIR/$NAME.git"
      printf '%s\n' "$DESCRIPTION" > "$DIR/$NAME.git/description"
      ${local.describe}
    EOT
    read   = local.describe
    update = <<-EOT
      set -e
      printf '%s\n' "$DESCRIPTION" > "$DIR/$NAME.git/description"
      ${local.describe}
    EOT
    delete = "rm -rf \"$DIR/$NAME.git\""
  }

  environment = {
    DIR         = "${path.module}/repos"
    NAME        = each.key
    DESCRIPTION = each.value
  }
  interpreter = ["/bin/sh", "-c"]
}

output "repos" {
  value = { for name, r in shell_script.repo : name => r.output }
}
