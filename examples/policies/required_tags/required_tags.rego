# Required tags on created resources: every resource being created whose type has `tags`
# (AWS, Azure) or `labels` (Google) must set the required ones to a non-empty value. For
# terraform_data, whose `input` is free-form, an object `input` must carry them in
# `input.tags`. Tags only known after apply are not checked.
#
# Rego v1 syntax, with `import rego.v1` (which OPA 0.x needs, and OPA 1.x accepts). Denials
# are objects: the message in `msg`, the resource address in `resource`.
package terraform.required_tags

import rego.v1

required := {"owner", "cost_center"}

deny contains {"msg": msg, "resource": rc.address} if {
	some rc in input.resource_changes
	"create" in rc.change.actions
	some tags in planned_tags(rc)
	missing := required - {k | some k, v in as_object(tags); v != ""}
	count(missing) > 0
	msg := sprintf("missing required tags: %s", [concat(", ", sort(missing))])
}

# The tags of a change's planned object, as a one-element set ({} when its type has none, or
# when they are unknown until apply).
planned_tags(rc) := {rc.change.after.input.tags} if {
	rc.type == "terraform_data"
	is_object(rc.change.after.input)
	not unknown(rc, "input")
} else := {rc.change.after.tags} if {
	"tags" in object.keys(rc.change.after)
	not unknown(rc, "tags")
} else := {rc.change.after.labels} if {
	"labels" in object.keys(rc.change.after)
	not unknown(rc, "labels")
} else := set()

unknown(rc, key) if rc.change.after_unknown[key] == true

as_object(x) := x if is_object(x)

else := {}
