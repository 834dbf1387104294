package bench.encryption

import rego.v1

encrypted_attr := {"aws_ebs_volume": "encrypted", "aws_db_instance": "storage_encrypted"}

deny contains msg if {
	some rc in input.resource_changes
	attr := encrypted_attr[rc.type]
	rc.change.after[attr] != true
	msg := sprintf("%s must set %s = true", [rc.address, attr])
}
