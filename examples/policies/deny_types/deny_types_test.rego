package deny_types

plan(type, actions) = p {
	p := {"resource_changes": [{
		"address": concat(".", [type, "x"]),
		"type": type,
		"name": "x",
		"change": {"actions": actions},
	}]}
}

test_a_denied_type_is_reported_with_its_address {
	v := violation with input as plan("aws_iam_user", ["create"])
	count(v) == 1
	v[_].details.address == "aws_iam_user.x"
	v[_].msg == "resource type aws_iam_user is not allowed: create IAM users in the identity account, not here"
}

test_updates_are_denied_too {
	count(violation) == 1 with input as plan("aws_iam_access_key", ["update"])
}

test_deleting_a_denied_type_is_allowed {
	count(violation) == 0 with input as plan("aws_iam_user", ["delete"])
}

test_other_types_are_allowed {
	count(violation) == 0 with input as plan("aws_instance", ["create"])
}

test_the_list_comes_from_data {
	count(violation) == 1 with input as plan("aws_instance", ["create"]) with data.denied_resource_types as {"aws_instance": "no"}
}
