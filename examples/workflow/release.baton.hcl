# A release: the network stack, then the app stack (wired to the network's output), a
# migration command with retries and outputs, an approval before promotion, and a smoke
# test per URL. If a step fails, both stacks are rolled back and "page" runs.
#
#   baton workflow run release --input env=dev      # stops at the approval
#   baton approve RUN promote                        # continues it
workflow "release" {
  input "env" {
    type    = string
    default = "dev"
  }

  step "network" {
    apply = "stacks/network"
    env   = input.env
    vars  = { cidr = "10.0.0.0/16" }
  }

  step "app" {
    apply = "stacks/app"
    env   = input.env
    vars  = { subnet_id = step.network.outputs.subnet_id, env = input.env }
  }

  step "migrate" {
    command = "echo \"migrating with $(cat ${step.app.outputs.config_file})\"; echo schema=42 > \"$BATON_OUTPUTS\""
    retry {
      attempts = 3
      backoff  = "1s"
    }
    timeout = "1m"
  }

  step "promote" {
    depends_on = [step.migrate]
    approval {
      message = "Promote ${input.env} (schema ${step.migrate.outputs.schema})?"
      timeout = "24h"
    }
  }

  step "smoke" {
    depends_on = [step.promote]
    for_each   = toset(step.app.outputs.urls)
    command    = "echo checked ${each.value}"
  }

  compensate "page" {
    command = "echo \"release failed: $BATON_FAILURE\" >&2"
  }
}

# The same stacks without a person in the loop: the README's quick start runs this one.
workflow "deploy" {
  input "env" {
    type    = string
    default = "dev"
  }

  step "network" {
    apply = "stacks/network"
    env   = input.env
    vars  = { cidr = "10.1.0.0/16" }
  }

  step "app" {
    apply = "stacks/app"
    env   = input.env
    vars  = { subnet_id = step.network.outputs.subnet_id, env = input.env }
  }

  step "smoke" {
    for_each = toset(step.app.outputs.urls)
    command  = "echo checked ${each.value}"
  }
}
