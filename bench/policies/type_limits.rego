package bench.type_limits

import rego.v1

limits := {"aws_instance": 5000, "aws_s3_bucket_acl": 10}

counts[t] := n if {
	some t, _ in limits
	n := count([rc | some rc in input.resource_changes; rc.type == t; "create" in rc.change.actions])
}

warn contains msg if {
	some t, n in counts
	n > limits[t]
	msg := sprintf("%d %s resources created, more than %d", [n, t, limits[t]])
}
