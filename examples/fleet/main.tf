# Make hosts, configure them, check them: one apply.
#
# Each host here is an OpenSSH server started on a loopback port (host.sh), so the example runs
# on one machine as root with openssh-server and python3 installed; with a cloud provider the
# `shell_script.host` resource is the instance resource, and nothing below it changes.
#
#   baton apply --auto-approve      # hosts up, a page and a web server on each, checked
#   baton plan                      # no changes
#   baton destroy --auto-approve    # web servers stopped, hosts gone

variable "hosts" {
  description = "Host name => SSH port and web port."
  type        = map(object({ ssh = number, web = number }))
  default = {
    web1 = { ssh = 22101, web = 28101 }
    web2 = { ssh = 22102, web = 28102 }
  }
}

locals {
  dir = abspath("${path.module}/.fleet")
}

# The key Baton logs in with.
resource "shell_script" "client_key" {
  lifecycle_commands {
    create = "mkdir -p '${local.dir}' && rm -f '${local.dir}/client' '${local.dir}/client.pub' && ssh-keygen -q -t ed25519 -N '' -f '${local.dir}/client' && printf '{\"file\":\"%s\"}' '${local.dir}/client'"
    read   = "[ -f '${local.dir}/client' ] && printf '{\"file\":\"%s\"}' '${local.dir}/client' || true"
    delete = "rm -f '${local.dir}/client' '${local.dir}/client.pub'"
  }
}

# 1. The hosts.
resource "shell_script" "host" {
  for_each = var.hosts

  lifecycle_commands {
    create = "sh '${abspath(path.module)}/host.sh' up"
    read   = "sh '${abspath(path.module)}/host.sh' read"
    delete = "sh '${abspath(path.module)}/host.sh' down"
  }
  environment = {
    DIR        = "${local.dir}/${each.key}"
    PORT       = each.value.ssh
    CLIENT_PUB = "${shell_script.client_key.output.file}.pub"
  }
}

# 2. Configured: a page, and a web server serving it.
resource "remote_file" "page" {
  for_each = var.hosts

  connection {
    host             = shell_script.host[each.key].output.address
    port             = shell_script.host[each.key].output.port
    user             = "root"
    private_key_file = shell_script.client_key.output.file
    host_key         = shell_script.host[each.key].output.host_key
  }

  path    = "${shell_script.host[each.key].output.root}/srv/index.html"
  content = "Hello from ${each.key}\n"
  mode    = "0644"
}

resource "remote_command" "web" {
  for_each = var.hosts

  connection {
    host             = shell_script.host[each.key].output.address
    port             = shell_script.host[each.key].output.port
    user             = "root"
    private_key_file = shell_script.client_key.output.file
    host_key         = shell_script.host[each.key].output.host_key
  }

  command = "cd '${shell_script.host[each.key].output.root}/srv' && nohup python3 -m http.server --bind 127.0.0.1 ${each.value.web} >../web.log 2>&1 </dev/null & echo $! > '${shell_script.host[each.key].output.root}/web.pid'"
  creates = "${shell_script.host[each.key].output.root}/web.pid"
  undo    = "kill $(cat '${shell_script.host[each.key].output.root}/web.pid') && rm -f '${shell_script.host[each.key].output.root}/web.pid'"

  depends_on = [remote_file.page]
}

# 3. Checked: every host serves its page.
data "external" "probe" {
  for_each = var.hosts

  program = ["python3", "-c", <<-PY
    import json, time, urllib.request
    for _ in range(100):
        try:
            body = urllib.request.urlopen("http://127.0.0.1:${each.value.web}/", timeout=2).read().decode()
            break
        except OSError:
            time.sleep(0.1)
    else:
        body = ""
    print(json.dumps({"body": body}))
  PY
  ]

  depends_on = [remote_command.web]
}

check "pages_served" {
  assert {
    condition     = alltrue([for k, p in data.external.probe : p.result.body == "Hello from ${k}\n"])
    error_message = "A host does not serve its page."
  }
}

output "pages" {
  value = { for k, p in data.external.probe : k => trimspace(p.result.body) }
}
