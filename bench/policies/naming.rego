package bench.naming

import rego.v1

deny contains {"msg": sprintf("name %q does not match ^[a-z][a-z0-9_]*$", [rc.name]), "resource": rc.address} if {
	some rc in input.resource_changes
	"create" in rc.change.actions
	not regex.match(`^[a-z][a-z0-9_]*$`, rc.name)
}
