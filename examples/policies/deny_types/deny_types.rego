# Deny list of resource types (data.denied_resource_types, from deny_types.yaml). Deleting a resource of
# a denied type is allowed: that is the clean-up.
#
# Older (Rego v0) syntax, and Gatekeeper-style violation objects: the message in `msg`, the
# resource address in `details.address`.
package deny_types

violation[{"msg": msg, "details": {"address": rc.address, "type": rc.type}}] {
	rc := input.resource_changes[_]
	reason := data.denied_resource_types[rc.type]
	creates_or_updates(rc.change.actions)
	msg := sprintf("resource type %s is not allowed: %s", [rc.type, reason])
}

creates_or_updates(actions) {
	actions[_] == "create"
}

creates_or_updates(actions) {
	actions[_] == "update"
}
