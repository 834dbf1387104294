package terraform.required_tags_test

import rego.v1

import data.terraform.required_tags

creating(type, after) := {"resource_changes": [{
	"address": sprintf("%s.x", [type]),
	"type": type,
	"name": "x",
	"change": {"actions": ["create"], "after": after, "after_unknown": {}},
}]}

test_tags_present if {
	plan := creating("aws_instance", {"tags": {"owner": "ops", "cost_center": "42"}})
	count(required_tags.deny) == 0 with input as plan
}

test_missing_tags_are_named if {
	plan := creating("aws_instance", {"tags": {"owner": "ops"}})
	required_tags.deny == {{"msg": "missing required tags: cost_center", "resource": "aws_instance.x"}} with input as plan
}

test_null_tags_miss_everything if {
	plan := creating("aws_s3_bucket", {"tags": null})
	some d in required_tags.deny with input as plan
	d.msg == "missing required tags: cost_center, owner"
}

test_empty_values_do_not_count if {
	plan := creating("aws_instance", {"tags": {"owner": "", "cost_center": "1"}})
	count(required_tags.deny) == 1 with input as plan
}

test_google_labels if {
	count(required_tags.deny) == 1 with input as creating("google_compute_instance", {"labels": {}})
	count(required_tags.deny) == 0 with input as creating("google_compute_instance", {"labels": {"owner": "a", "cost_center": "b"}})
}

test_types_without_tags_are_ignored if {
	count(required_tags.deny) == 0 with input as creating("random_id", {"byte_length": 4})
}

test_terraform_data_uses_input_tags if {
	count(required_tags.deny) == 1 with input as creating("terraform_data", {"input": {"tags": {"owner": "a"}}})
	count(required_tags.deny) == 0 with input as creating("terraform_data", {"input": {"tags": {"owner": "a", "cost_center": "b"}}})
	count(required_tags.deny) == 0 with input as creating("terraform_data", {"input": "a string"})
}

test_updates_are_not_checked if {
	plan := {"resource_changes": [{
		"address": "aws_instance.x",
		"type": "aws_instance",
		"change": {"actions": ["update"], "after": {"tags": {}}},
	}]}
	count(required_tags.deny) == 0 with input as plan
}

test_unknown_tags_are_not_checked if {
	plan := {"resource_changes": [{
		"address": "aws_instance.x",
		"type": "aws_instance",
		"change": {"actions": ["create"], "after": {}, "after_unknown": {"tags": true}},
	}]}
	count(required_tags.deny) == 0 with input as plan
}
