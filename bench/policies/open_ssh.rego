package bench.open_ssh

import rego.v1

violation contains {"msg": "SSH open to the world", "details": {"address": rc.address}} if {
	some rc in input.resource_changes
	rc.type == "aws_security_group_rule"
	rc.change.after.from_port <= 22
	rc.change.after.to_port >= 22
	some cidr in rc.change.after.cidr_blocks
	net.cidr_contains(cidr, "203.0.113.7")
}
