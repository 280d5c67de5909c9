//! `gateway/openapi.yaml` read as what it is written as (JSON, a subset of YAML), and a small
//! validator for the schema forms it uses: `$ref`, `type`, `nullable`, `enum`, `required`,
//! `properties`, `additionalProperties: false`, `items`, `oneOf`, `allOf`, `minimum`,
//! `maximum`, `format: byte`.

use base64::Engine;
use serde_json::Value;

pub fn doc() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml");
    let json: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&json).expect("openapi.yaml is JSON-flavoured YAML")
}

/// The named component schema.
pub fn component(doc: &Value, name: &str) -> Value {
    doc["components"]["schemas"][name].clone()
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            let s = &doc["components"]["schemas"][name];
            assert!(!s.is_null(), "dangling $ref {r}");
            resolve(doc, s)
        }
        None => schema,
    }
}

/// Problems of `value` against `schema` (empty: it conforms).
pub fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut out = Vec::new();
    if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return out;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            out.extend(check(doc, s, value, at));
        }
        return out;
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = one
            .iter()
            .filter(|s| check(doc, s, value, at).is_empty())
            .count();
        if matching != 1 {
            out.push(format!("{at}: matches {matching} of oneOf, not 1"));
        }
        return out;
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(value)
    {
        out.push(format!("{at}: {value} not in {e:?}"));
    }
    let ty = schema.get("type").and_then(Value::as_str);
    let ok = match ty {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(other) => panic!("schema type {other} not handled"),
    };
    if !ok {
        out.push(format!("{at}: {value} is not {}", ty.unwrap_or("?")));
        return out;
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_i64)
        && value.as_i64().is_some_and(|v| v < min)
    {
        out.push(format!("{at}: below {min}"));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_i64)
        && value.as_i64().is_some_and(|v| v > max)
    {
        out.push(format!("{at}: above {max}"));
    }
    if schema.get("format").and_then(Value::as_str) == Some("byte")
        && let Some(s) = value.as_str()
        && base64::engine::general_purpose::STANDARD.decode(s).is_err()
    {
        out.push(format!("{at}: not base64"));
    }
    if let Some(items) = schema.get("items")
        && let Some(arr) = value.as_array()
    {
        for (i, v) in arr.iter().enumerate() {
            out.extend(check(doc, items, v, &format!("{at}[{i}]")));
        }
    }
    if let Some(obj) = value.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().expect("required name");
            if !obj.contains_key(r) {
                out.push(format!("{at}: required {r} missing"));
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => out.extend(check(doc, s, v, &format!("{at}.{k}"))),
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    out.push(format!("{at}: {k} is not in the schema"))
                }
                // Documented types list every field the gateway sends: an undocumented one
                // is drift too, unless the schema is a free-form object.
                None if props.is_some() => out.push(format!("{at}: {k} is not documented")),
                None => {}
            }
        }
    }
    out
}

/// Assert that `value` conforms to the component `name`.
pub fn conforms(doc: &Value, name: &str, value: &Value) {
    let problems = check(
        doc,
        &serde_json::json!({ "$ref": format!("#/components/schemas/{name}") }),
        value,
        name,
    );
    assert!(
        problems.is_empty(),
        "{name} does not conform: {problems:#?}\n{value:#}"
    );
}

/// The JSON schema name of an operation's response for `status`, if JSON.
pub fn response_schema(doc: &Value, method: &str, path: &str, status: u16) -> Option<String> {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(!op.is_null(), "{method} {path} not documented");
    let r = &op["responses"][status.to_string()];
    assert!(
        !r.is_null(),
        "{method} {path} does not document status {status}"
    );
    r["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .map(|s| s.trim_start_matches("#/components/schemas/").to_owned())
}

/// Assert that an answer is documented for its operation and conforms to its schema.
pub fn answer_conforms(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    if let Some(name) = response_schema(doc, method, path, status) {
        conforms(doc, &name, body);
    }
}
