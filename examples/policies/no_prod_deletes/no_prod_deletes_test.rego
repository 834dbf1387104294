package no_prod_deletes

plan(env, actions) = p {
	p := {
		"baton": {"environment": env, "user": "alice", "run_id": "r1", "command": "apply"},
		"resource_changes": [{"address": "aws_instance.web", "type": "aws_instance", "change": {"actions": actions}}],
	}
}

test_delete_in_prod_is_denied {
	deny_prod_delete == {"aws_instance.web would be deleted: deletes are not allowed in prod (run r1 by alice)"} with input as plan("prod", ["delete"])
}

test_replace_in_prod_is_denied {
	msgs := deny_prod_delete with input as plan("prod", ["create", "delete"])
	msgs[_] == "aws_instance.web would be replaced: deletes are not allowed in prod (run r1 by alice)"
}

test_create_in_prod_is_allowed {
	count(deny_prod_delete) == 0 with input as plan("prod", ["create"])
}

test_delete_in_dev_is_allowed {
	count(deny_prod_delete) == 0 with input as plan("dev", ["delete"])
	count(warn) == 0 with input as plan("dev", ["delete"])
}

test_delete_in_staging_warns {
	warn == {"aws_instance.web would be deleted"} with input as plan("staging", ["delete"])
	count(deny_prod_delete) == 0 with input as plan("staging", ["delete"])
}

test_missing_run_context_fields_still_deny {
	p := {"baton": {"environment": "prod"}, "resource_changes": [{"address": "a_b.c", "change": {"actions": ["delete"]}}]}
	deny_prod_delete == {"a_b.c would be deleted: deletes are not allowed in prod (run ? by ?)"} with input as p
}
