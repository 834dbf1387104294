cidr    = "10.10.0.0/16"
subnets = 2
services = {
  web = { replicas = 1 }
}
