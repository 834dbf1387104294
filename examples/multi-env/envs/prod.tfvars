cidr    = "10.20.0.0/16"
subnets = 4
services = {
  web    = { replicas = 3 }
  worker = { replicas = 2, port = 9090 }
}
