//! The streamed plan file form is byte for byte the serialized `planfile::to_json`, and
//! reads back to the same plan.

use baton_core::Sources;
use baton_engine::{planfile, NoObserver};

#[test]
fn streamed_plan_file_equals_the_json_tree_form() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("main.tf"),
        r#"variable "n" {
  default = 3
}

resource "terraform_data" "r" {
  count = var.n
  input = { i = count.index, s = "x\"y" }
}

output "ids" {
  value = terraform_data.r[*].input
}
"#,
    )
    .expect("write config");
    let sources = Sources::new();
    let (ctx, d) = baton_engine::load(dir.path(), "default", &sources);
    let ctx = ctx.unwrap_or_else(|| panic!("{d:?}"));
    let opts = baton_engine::plan::PlanOpts {
        env: Vec::new(),
        ..Default::default()
    };
    let (plan, d) = baton_engine::plan::plan(&ctx, &Default::default(), &opts, &NoObserver);
    let plan = plan.unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(plan.changes.len(), 3);
    let tree = serde_json::to_string(&planfile::to_json(&plan)).expect("serialize");
    assert_eq!(planfile::to_string(&plan), tree);
    let path = dir.path().join("p.plan");
    planfile::write(&path, &plan).expect("write");
    let bytes = std::fs::read(&path).expect("read");
    assert_eq!(bytes, tree.as_bytes());
    use sha2::Digest as _;
    assert_eq!(
        planfile::digest(&plan),
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    let back = planfile::read(&path).expect("read back");
    assert_eq!(planfile::to_string(&back), tree);
}
