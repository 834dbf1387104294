# Blast radius: a score over the plan's resource changes, with a weight per resource type and
# action taken from data.blast_radius (blast_radius.json). Deny when the score is above the
# threshold; warn when it is above the warning level.
#
# Rego v1 syntax.
package terraform.blast_radius

# The action of one change: create, update, delete, replace (both delete and create), or
# no-op/read (which weigh nothing unless the weights say otherwise).
action(change) := "replace" if {
	"create" in change.actions
	"delete" in change.actions
} else := change.actions[0]

# The weight of a change: its type's weight for the action, else the default ("*") weight,
# else 0.
weight(rc) := object.get(weights, [rc.type, a], object.get(weights, ["*", a], 0)) if {
	weights := data.blast_radius.weights
	a := action(rc.change)
}

score := sum([weight(rc) | some rc in input.resource_changes])

deny contains msg if {
	score > data.blast_radius.threshold
	msg := sprintf(
		"blast radius %v is above the limit of %v: split the change into smaller ones",
		[score, data.blast_radius.threshold],
	)
}

warn contains msg if {
	score > data.blast_radius.warn_at
	score <= data.blast_radius.threshold
	msg := sprintf("blast radius %v is above %v: review the plan carefully", [score, data.blast_radius.warn_at])
}
