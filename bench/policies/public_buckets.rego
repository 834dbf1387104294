package bench.public_buckets

deny[msg] {
	rc := input.resource_changes[_]
	rc.type == "aws_s3_bucket_acl"
	startswith(rc.change.after.acl, "public")
	msg := sprintf("%s: bucket ACL %s is public", [rc.address, rc.change.after.acl])
}
