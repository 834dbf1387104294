# No deletes in prod: in the `prod` environment (Baton's run context, input.baton), a plan
# must not delete or replace a resource. In `staging` the same plan only warns.
#
# Older (Rego v0) syntax, and conftest's `deny_<name>` rule naming. Fields of input.baton that
# may be absent are read with object.get, so that a missing field cannot make the rule
# undefined and let the plan through.
package no_prod_deletes

deny_prod_delete[msg] {
	input.baton.environment == "prod"
	rc := input.resource_changes[_]
	rc.change.actions[_] == "delete"
	msg := sprintf("%s would be %s: deletes are not allowed in prod (run %s by %s)", [
		rc.address,
		verb(rc.change.actions),
		object.get(input.baton, "run_id", "?"),
		object.get(input.baton, "user", "?"),
	])
}

warn[msg] {
	input.baton.environment == "staging"
	rc := input.resource_changes[_]
	rc.change.actions[_] == "delete"
	msg := sprintf("%s would be %s", [rc.address, verb(rc.change.actions)])
}

verb(actions) = "replaced" {
	actions[_] == "create"
} else = "deleted" {
	true
}
