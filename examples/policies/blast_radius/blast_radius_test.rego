package blast_radius_test

import data.terraform.blast_radius

change(type, name, actions) := {
	"address": sprintf("%s.%s", [type, name]),
	"type": type,
	"name": name,
	"change": {"actions": actions},
}

test_small_plan_is_allowed if {
	plan := {"resource_changes": [
		change("aws_instance", "web", ["create"]),
		change("aws_security_group", "web", ["update"]),
	]}
	blast_radius.score == 3 with input as plan
	count(blast_radius.deny) == 0 with input as plan
	count(blast_radius.warn) == 0 with input as plan
}

test_type_weights_override_the_default if {
	plan := {"resource_changes": [change("aws_db_instance", "main", ["delete", "create"])]}
	blast_radius.score == 50 with input as plan
}

test_no_op_and_unknown_actions_weigh_nothing if {
	plan := {"resource_changes": [
		change("aws_instance", "a", ["no-op"]),
		change("aws_instance", "b", ["read"]),
	]}
	blast_radius.score == 0 with input as plan
}

test_replacing_three_databases_is_denied if {
	plan := {"resource_changes": [
		change("aws_db_instance", "a", ["delete", "create"]),
		change("aws_db_instance", "b", ["create", "delete"]),
		change("aws_db_instance", "c", ["delete"]),
	]}
	denials := blast_radius.deny with input as plan
	denials == {"blast radius 150 is above the limit of 100: split the change into smaller ones"}
}

test_a_medium_plan_warns if {
	plan := {"resource_changes": [
		change("aws_vpc", "main", ["delete", "create"]),
		change("aws_vpc", "b", ["update"]),
		change("aws_subnet", "c", ["create"]),
	]}
	blast_radius.warn == {"blast radius 51 is above 50: review the plan carefully"} with input as plan
	count(blast_radius.deny) == 0 with input as plan
}

test_the_threshold_comes_from_data if {
	plan := {"resource_changes": [change("aws_instance", "a", ["create"]), change("aws_instance", "b", ["create"])]}
	count(blast_radius.deny) == 1 with input as plan with data.blast_radius.threshold as 1
}

test_an_empty_plan_scores_zero if {
	blast_radius.score == 0 with input as {"resource_changes": []}
}
