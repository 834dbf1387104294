//! scratch
fn main() {
    let mut e = regorus::Engine::new();
    e.add_policy("p.rego".into(), "package a.b[\"c.d\"]\nimport rego.v1\ndefault allow := false\ndeny contains msg if { msg := \"x\" }\ndeny_x[msg] if { msg := \"x\" }\nf(x) := 1\nviolation contains {\"msg\": 1} if true\nwarn.y contains 1 if true\ntest_a if { true }\nx := 1\n".into()).unwrap();
    println!("{}", e.get_ast_as_json().unwrap());
}
