//! Built-in functions as OPA defines them: `sprintf` with Go's `fmt`, errors inside built-ins
//! making an expression undefined, and the built-ins real policy libraries call
//! (`json.patch`, `yaml.*`, `crypto.*`, `io.jwt.decode`, `urlquery.*`, `uuid.rfc4122`, ...).
//! Data-driven: one table of (expression, expected value) per area.

use baton_core::Sources;
use serde_json::{json, Value};

/// The value of `expr` with no policy loaded; `None` when it is undefined.
fn value(expr: &str) -> Option<Value> {
    let sources = Sources::new();
    let out = baton_policy::eval_query(&[], None, &format!("x := {expr}"), &sources)
        .unwrap_or_else(|d| panic!("{expr}: {}", d.render(&sources)));
    out["result"][0]["bindings"].get("x").cloned()
}

fn check(cases: &[(&str, Value)]) {
    let mut failures = Vec::new();
    for (expr, want) in cases {
        let got = value(expr);
        if got.as_ref() != Some(want) {
            failures.push(format!("{expr}\n    got:  {got:?}\n    want: {want}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn sprintf_follows_go_fmt() {
    check(&[
        (r#"sprintf("%-10s|", ["ab"])"#, json!("ab        |")),
        (r#"sprintf("%10s|", ["ab"])"#, json!("        ab|")),
        (
            r#"sprintf("%-40s%s", ["name", "x"])"#,
            json!(format!("{:<40}x", "name")),
        ),
        (r#"sprintf("%+d", [5])"#, json!("+5")),
        (r#"sprintf("% d", [5])"#, json!(" 5")),
        (r#"sprintf("%05d", [-42])"#, json!("-0042")),
        (r#"sprintf("%05.2f", [3.14159])"#, json!("03.14")),
        (r#"sprintf("%08.3f", [-3.14159])"#, json!("-003.142")),
        (r#"sprintf("%6.1f|", [99.5])"#, json!("  99.5|")),
        (r#"sprintf("%.2f", [2])"#, json!("%!f(int=02)")),
        (r#"sprintf("%s", ["a", "b"])"#, json!("a%!(EXTRA string=b)")),
        (
            r#"sprintf("%s", ["a", 1, 1.5])"#,
            json!("a%!(EXTRA int=1, float64=1.5)"),
        ),
        (r#"sprintf("%s %s", ["a"])"#, json!("a %!s(MISSING)")),
        (r#"sprintf("%d", ["5"])"#, json!("%!d(string=5)")),
        (r#"sprintf("%s", [5])"#, json!("%!s(int=5)")),
        (r#"sprintf("%d", [1.5])"#, json!("%!d(float64=1.5)")),
        (r#"sprintf("%z", ["a"])"#, json!("%!z(string=a)")),
        (r#"sprintf("%t", [true])"#, json!("%!t(string=true)")),
        (r#"sprintf("abc%", [])"#, json!("abc%!(NOVERB)")),
        (r#"sprintf("100%%", [])"#, json!("100%")),
        (r#"sprintf("%v", [{"b", "a"}])"#, json!(r#"{"a", "b"}"#)),
        (r#"sprintf("%v", [set()])"#, json!("set()")),
        (
            r#"sprintf("%v", [{"k": [1, "x", null, true]}])"#,
            json!(r#"{"k": [1, "x", null, true]}"#),
        ),
        (r#"sprintf("%s", [["a"]])"#, json!(r#"["a"]"#)),
        (r#"sprintf("%v", [[]])"#, json!("[]")),
        (
            r#"sprintf("%v|%v|%v", [null, true, 1.5])"#,
            json!("null|true|1.5"),
        ),
        (r#"sprintf("%q", ["a\"b\n"])"#, json!(r#""a\"b\n""#)),
        (r#"sprintf("%q", [65])"#, json!("'A'")),
        (r#"sprintf("%c|%U", [65, 128512])"#, json!("A|U+1F600")),
        (
            r#"sprintf("%x|%X|%#x|%x", [255, 255, 255, -255])"#,
            json!("ff|FF|0xff|-ff"),
        ),
        (
            r#"sprintf("%x|% x|%#X", ["hi", "hi", "hi"])"#,
            json!("6869|68 69|0X6869"),
        ),
        (
            r#"sprintf("%o|%#o|%b|%O", [8, 8, 5, 8])"#,
            json!("10|010|101|0o10"),
        ),
        (
            r#"sprintf("%e|%E", [1234.5678, 0.5])"#,
            json!("1.234568e+03|5.000000E-01"),
        ),
        (
            r#"sprintf("%g|%g|%.3g|%G", [1234.5678, 0.00001234, 1234.5678, 1e-7])"#,
            json!("1234.5678|1.234e-05|1.23e+03|1E-07"),
        ),
        (
            r#"sprintf("%v|%v", [0.1, 123456789.5])"#,
            json!("0.1|1.234567895e+08"),
        ),
        (r#"sprintf("%[2]s %[1]s", ["a", "b"])"#, json!("b a")),
        (r#"sprintf("%[3]s", ["a"])"#, json!("%!s(BADINDEX)")),
        (
            r#"sprintf("%*d|%-*d|", [5, 42, 4, 7])"#,
            json!("   42|7   |"),
        ),
        (
            r#"sprintf("%.2s|%10.3v|", ["abcdef", "abcdef"])"#,
            json!("ab|       abc|"),
        ),
        (
            r#"sprintf("%d", [12345678901234567890123])"#,
            json!("12345678901234567890123"),
        ),
        (
            r#"sprintf("%T %T %T", ["a", 1, 1.5])"#,
            json!("string int float64"),
        ),
        (
            r#"sprintf("%s is %d%% full", ["disk", 90])"#,
            json!("disk is 90% full"),
        ),
    ]);
}

#[test]
fn builtin_errors_are_undefined_not_fatal() {
    // OPA makes a built-in's error undefined (so `x` is unbound).
    assert_eq!(value(r#"sprintf("%s", "not an array")"#), None);
    assert_eq!(value("count(null)"), None);
    assert_eq!(value(r#"to_number("x")"#), None);
    assert_eq!(value("[count(null)]"), None);
    assert_eq!(value("count([1])"), Some(json!(1)));
}

#[test]
fn builtins_real_policy_libraries_call() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    check(&[
        (
            r#"crypto.md5("abc")"#,
            json!("900150983cd24fb0d6963f7d28e17f72"),
        ),
        (
            r#"crypto.sha1("abc")"#,
            json!("a9993e364706816aba3e25717850c26c9cd0d89d"),
        ),
        (
            r#"crypto.sha256("abc")"#,
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ),
        (
            r#"crypto.hmac.sha256("what do ya want for nothing?", "Jefe")"#,
            json!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ),
        (
            r#"crypto.hmac.md5("what do ya want for nothing?", "Jefe")"#,
            json!("750c783e6ab0b503eaa86e310a5db738"),
        ),
        (r#"crypto.hmac.equal("ab", "ab")"#, json!(true)),
        (r#"crypto.hmac.equal("ab", "ac")"#, json!(false)),
        (
            &format!(r#"io.jwt.decode("{jwt}")[1]"#),
            json!({"sub": "1234567890", "name": "John Doe", "iat": 1516239022}),
        ),
        (
            &format!(r#"io.jwt.decode("{jwt}")[0]"#),
            json!({"alg": "HS256", "typ": "JWT"}),
        ),
        (r#"urlquery.encode("a b&c")"#, json!("a+b%26c")),
        (r#"urlquery.decode("a+b%26c")"#, json!("a b&c")),
        (
            r#"urlquery.encode_object({"b": ["2", "3"], "a": "x y"})"#,
            json!("a=x+y&b=2&b=3"),
        ),
        (
            r#"urlquery.decode_object("a=1&b=2&b=3&c")"#,
            json!({"a": ["1"], "b": ["2", "3"], "c": [""]}),
        ),
        (
            r#"json.patch({"a": 1}, [{"op": "add", "path": "/b", "value": 2}])"#,
            json!({"a": 1, "b": 2}),
        ),
        (
            r#"json.match_schema({"a": 1}, {"type": "object", "required": ["b"]})[0]"#,
            json!(false),
        ),
        (
            r#"json.match_schema({"b": 1}, {"type": "object", "required": ["b"]})[0]"#,
            json!(true),
        ),
        (r#"yaml.unmarshal("a: [1, x]")"#, json!({"a": [1, "x"]})),
        (
            r#"yaml.unmarshal(yaml.marshal({"k": ["v"]}))"#,
            json!({"k": ["v"]}),
        ),
        (
            r#"yaml.marshal({"a": 1, "b": [1.5, true, null], "c": "x", "d": {"e": 10000000000}})"#,
            json!("a: 1\nb:\n- 1.5\n- true\n- null\nc: x\nd:\n  e: 10000000000\n"),
        ),
        (
            r#"yaml.unmarshal(yaml.marshal({"n": [1, 2.5]}))"#,
            json!({"n": [1, 2.5]}),
        ),
        (r#"yaml.is_valid("a: [")"#, json!(false)),
        (r#"count(uuid.rfc4122("seed"))"#, json!(36)),
    ]);
    assert_eq!(value(r#"urlquery.decode("%zz")"#), None);
    assert_eq!(value(r#"io.jwt.decode("not.a.jwt")"#), None);
}

#[test]
fn network_builtins_follow_opa() {
    check(&[
        (
            r#"net.cidr_intersects("10.0.0.0/8", "10.1.0.0/16")"#,
            json!(true),
        ),
        (
            r#"net.cidr_intersects("10.1.0.0/16", "10.0.0.0/8")"#,
            json!(true),
        ),
        (
            r#"net.cidr_intersects("0.0.0.0/0", "192.168.1.0/24")"#,
            json!(true),
        ),
        (
            r#"net.cidr_intersects("10.0.0.0/24", "10.0.1.0/24")"#,
            json!(false),
        ),
        (
            r#"net.cidr_intersects("10.0.0.7/24", "10.0.0.200/32")"#,
            json!(true),
        ),
        (
            r#"net.cidr_intersects("2001:db8::/32", "2001:db8:1::/48")"#,
            json!(true),
        ),
        (r#"net.cidr_intersects("::/0", "10.0.0.0/8")"#, json!(false)),
        (r#"net.cidr_overlap("10.0.0.0/8", "10.1.2.3")"#, json!(true)),
        (
            r#"net.cidr_overlap("10.0.0.0/8", "11.1.2.3")"#,
            json!(false),
        ),
    ]);
    assert_eq!(
        value(r#"net.cidr_intersects("10.0.0.0", "10.0.0.0/8")"#),
        None
    );
    assert_eq!(
        value(r#"net.cidr_intersects("10.0.0.0/33", "10.0.0.0/8")"#),
        None
    );
}

/// Built-ins OPA deprecated; it still runs them for policies in the older syntax, and older
/// libraries (regula's `all([...])`) call them.
#[test]
fn deprecated_builtins_older_policies_call() {
    check(&[
        ("any([false, true])", json!(true)),
        ("any({false})", json!(false)),
        ("any([])", json!(false)),
        ("all([true, true])", json!(true)),
        ("all([true, 1])", json!(false)),
        ("all([])", json!(true)),
        (r#"re_match("^a+$", "aaa")"#, json!(true)),
        (r#"re_match("^a+$", "ab")"#, json!(false)),
        ("set_diff({1, 2, 3}, {2})", json!([1, 3])),
        ("cast_array({2, 1})", json!([1, 2])),
        ("cast_set([2, 1, 2])", json!([1, 2])),
        (r#"cast_string("s")"#, json!("s")),
        ("cast_boolean(false)", json!(false)),
        ("cast_null(null)", json!(null)),
        (r#"cast_object({"a": 1})"#, json!({"a": 1})),
    ]);
    assert_eq!(value(r#"any("x")"#), None);
    assert_eq!(value("cast_string(1)"), None);
}

/// OPA returns `[true, []]` on a match and error objects (`error`, `type`, `field`, `desc`)
/// otherwise; policies test `count(errors) == 0` or read `errors[_].field`.
#[test]
fn json_match_schema_returns_opa_shapes() {
    let schema =
        r#"{"type": "object", "required": ["b"], "properties": {"a": {"type": "string"}}}"#;
    check(&[
        (
            &format!(r#"json.match_schema({{"b": 1}}, {schema})"#),
            json!([true, []]),
        ),
        (
            &format!(r#"json.match_schema(`{{"b": 1}}`, json.marshal({schema}))"#),
            json!([true, []]),
        ),
        (
            &format!(r#"json.match_schema({{"a": 1, "b": 1}}, {schema})[1][0].field"#),
            json!("a"),
        ),
        (
            &format!(r#"json.match_schema({{"a": 1, "b": 1}}, {schema})[1][0].type"#),
            json!("type"),
        ),
        (
            &format!(r#"json.match_schema({{}}, {schema})[1][0].field"#),
            json!("(root)"),
        ),
        (
            &format!(r#"count(json.match_schema({{"a": 1}}, {schema})[1])"#),
            json!(2),
        ),
    ]);
}

/// Built-ins regorus lacks that real policies call: network lists, glob intersection, simple
/// templates, verified JWTs.
#[test]
fn builtins_baton_adds_follow_opa() {
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    let unverified = json!([false, {}, {}]);
    check(&[
        (
            r#"net.cidr_merge(["192.0.128.0/24", "192.0.129.0/24"])"#,
            json!(["192.0.128.0/23"]),
        ),
        (
            r#"net.cidr_merge({"10.0.0.1", "10.0.0.0/32", "10.0.0.2"})"#,
            json!(["10.0.0.0/31", "10.0.0.2/32"]),
        ),
        (
            r#"net.cidr_merge(["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/33", "2001:db8:8000::/33"])"#,
            json!(["10.0.0.0/8", "2001:db8::/32"]),
        ),
        (
            r#"net.cidr_merge(["0.0.0.0/0", "1.2.3.4", "::/0"])"#,
            json!(["0.0.0.0/0", "::/0"]),
        ),
        (
            r#"net.cidr_merge(["10.0.0.0/30", "10.0.0.4/31", "10.0.0.6"])"#,
            json!(["10.0.0.0/30", "10.0.0.4/31", "10.0.0.6/32"]),
        ),
        (
            r#"net.cidr_contains_matches("10.0.0.0/8", "10.1.2.3")"#,
            json!([["10.0.0.0/8", "10.1.2.3"]]),
        ),
        (
            r#"net.cidr_contains_matches(["1.0.0.0/8", "10.0.0.0/8"], ["10.1.2.3", "1.1.1.1", "9.0.0.0/24"])"#,
            json!([[0, 1], [1, 0]]),
        ),
        (
            r#"net.cidr_contains_matches({"a": ["10.0.0.0/8", "x"]}, {"10.1.1.1"})"#,
            json!([["a", "10.1.1.1"]]),
        ),
        (
            r#"regex.globs_match("a.a.[0-9]+z", ".b.b2359825792*906z")"#,
            json!(true),
        ),
        (r#"regex.globs_match("[a-c]+", "[d-f]+")"#, json!(false)),
        (r#"regex.globs_match("a*", "b+")"#, json!(false)),
        (r#"regex.globs_match("a*", "b*")"#, json!(true)),
        (r#"regex.globs_match("[^a]", "a")"#, json!(false)),
        (r#"regex.globs_match("[^a]", "[a-b]")"#, json!(true)),
        (r#"regex.globs_match("a\\.b", "a.b")"#, json!(true)),
        (r#"regex.globs_match("a\\.b", "axb")"#, json!(false)),
        (
            r#"strings.render_template("Hello {{.name}}!", {"name": "x"})"#,
            json!("Hello x!"),
        ),
        (
            r#"strings.render_template("{{ .a.b }} - {{- .n -}} .", {"a": {"b": "y"}, "n": 5})"#,
            json!("y -5."),
        ),
        (
            r#"strings.render_template("{{.missing}}", {})"#,
            json!("<no value>"),
        ),
        (
            &format!(r#"io.jwt.decode_verify("{jwt}", {{"secret": "your-256-bit-secret"}})"#),
            json!([true, {"alg": "HS256", "typ": "JWT"}, {"sub": "1234567890", "name": "John Doe", "iat": 1516239022}]),
        ),
        (
            &format!(r#"io.jwt.decode_verify("{jwt}", {{"secret": "wrong"}})"#),
            unverified.clone(),
        ),
        (
            &format!(
                r#"io.jwt.decode_verify("{jwt}", {{"secret": "your-256-bit-secret", "alg": "HS512"}})"#
            ),
            unverified.clone(),
        ),
        (
            &format!(
                r#"io.jwt.decode_verify("{jwt}", {{"secret": "your-256-bit-secret", "iss": "x"}})"#
            ),
            unverified.clone(),
        ),
        (
            &format!(
                r#"io.jwt.decode_verify("{jwt}", {{"secret": "your-256-bit-secret", "aud": "x"}})"#
            ),
            unverified.clone(),
        ),
        (
            &format!(r#"io.jwt.decode_verify("{jwt}", {{"cert": "-----BEGIN CERTIFICATE-----"}})"#),
            unverified,
        ),
    ]);
    assert_eq!(
        value(r#"strings.render_template("{{range .xs}}{{end}}", {"xs": [1]})"#),
        None
    );
    assert_eq!(value(r#"net.cidr_merge(["not a network"])"#), None);
    assert_eq!(
        value(&format!(
            r#"io.jwt.decode_verify("{jwt}", {{"secret": "s", "bogus": 1}})"#
        )),
        None
    );
}
