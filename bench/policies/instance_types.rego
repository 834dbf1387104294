package bench.instance_types

import rego.v1

allowed := {"t3.micro", "t3.small", "t3.medium", "m5.large"}

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "aws_instance"
	not rc.change.after.instance_type in allowed
	msg := sprintf("%s: instance type %s is not allowed", [rc.address, rc.change.after.instance_type])
}
