//! `docs/status-event.d.ts` against `docs/status-event.schema.json`: every message of the
//! schema has its TypeScript interface with the same properties, the same optionality, the
//! same nullability, the same constants and enum values; and the `ServerMessage` union
//! lists exactly the schema's server messages. A small parser reads the `.d.ts`, written
//! one property per line.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The schema's message definitions and the interfaces that type them.
const MESSAGES: [(&str, &str); 7] = [
    ("status", "StatusMessage"),
    ("ready", "ReadyMessage"),
    ("subscribed", "SubscribedMessage"),
    ("lagged", "LaggedMessage"),
    ("error", "ErrorMessage"),
    ("alert", "AlertMessage"),
    ("subscribe", "SubscribeMessage"),
];

/// An interface's properties: (name, optional, type).
type Properties = Vec<(String, bool, String)>;

struct TypeScript {
    /// `export type Name = …;`, by name.
    aliases: BTreeMap<String, String>,
    /// `export interface Name { … }`: (property, optional, type), by name.
    interfaces: BTreeMap<String, Properties>,
}

fn parse_typescript(source: &str) -> TypeScript {
    let mut aliases = BTreeMap::new();
    let mut interfaces = BTreeMap::new();
    let mut current: Option<(String, Properties)> = None;
    for line in source.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("//") || line.starts_with("/*") || line.starts_with('*') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("export type ") {
            let (name, rhs) = rest.split_once(" = ").expect("`export type Name = …;`");
            aliases.insert(name.to_owned(), rhs.trim_end_matches(';').trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("export interface ") {
            let name = rest.trim_end_matches('{').trim().to_owned();
            assert!(current.is_none(), "nested interface {name}");
            current = Some((name, Vec::new()));
        } else if line == "}" {
            let (name, properties) = current.take().expect("a `}` closes an interface");
            interfaces.insert(name, properties);
        } else {
            let (_, properties) =
                current.as_mut().unwrap_or_else(|| panic!("a property outside an interface: {line}"));
            let (name, ty) = line.split_once(':').unwrap_or_else(|| panic!("`name: type;` expected: {line}"));
            let (name, optional) = match name.strip_suffix('?') {
                Some(name) => (name, true),
                None => (name, false),
            };
            let ty = ty.trim().strip_suffix(';').unwrap_or_else(|| panic!("missing `;`: {line}"));
            properties.push((name.to_owned(), optional, ty.trim().to_owned()));
        }
    }
    assert!(current.is_none(), "an interface is not closed");
    TypeScript { aliases, interfaces }
}

fn members(ty: &str) -> BTreeSet<String> {
    ty.split('|').map(|m| m.trim().to_owned()).collect()
}

struct Checker<'a> {
    defs: &'a serde_json::Map<String, Value>,
    ts: &'a TypeScript,
}

impl Checker<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference.strip_prefix("#/$defs/").expect("local reference");
                self.resolve(&self.defs[name])
            }
            None => schema,
        }
    }

    /// The schema's alternatives other than null, and whether null is one.
    fn alternatives(&self, schema: &Value) -> (Vec<Value>, bool) {
        let schema = self.resolve(schema);
        if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
            let mut nullable = false;
            let mut rest = Vec::new();
            for option in options {
                let option = self.resolve(option);
                if option.get("type") == Some(&Value::from("null")) {
                    nullable = true;
                } else {
                    rest.push(option.clone());
                }
            }
            return (rest, nullable);
        }
        if let Some(types) = schema.get("type").and_then(Value::as_array) {
            let nullable = types.iter().any(|t| t == "null");
            let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            assert_eq!(rest.len(), 1, "one non-null type: {schema}");
            let mut single = schema.clone();
            single["type"] = rest[0].clone();
            return (vec![single], nullable);
        }
        (vec![schema.clone()], false)
    }

    /// Expands aliases of string literals into their members.
    fn literals(&self, ty: &str) -> BTreeSet<String> {
        members(ty)
            .into_iter()
            .flat_map(|m| match self.ts.aliases.get(&m) {
                Some(alias) => self.literals(alias).into_iter().collect::<Vec<_>>(),
                None => vec![m],
            })
            .collect()
    }

    fn check_type(&self, at: &str, schema: &Value, ty: &str) {
        let (alternatives, nullable) = self.alternatives(schema);
        let mut ts_members = members(ty);
        assert_eq!(ts_members.remove("null"), nullable, "{at}: null in the schema and in `{ty}` differ");
        assert_eq!(alternatives.len(), 1, "{at}: one non-null alternative expected");
        let schema = &alternatives[0];
        let ty = ts_members.into_iter().collect::<Vec<_>>().join(" | ");
        if let Some(constant) = schema.get("const") {
            assert_eq!(ty, constant.to_string(), "{at}: const");
        } else if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let expected: BTreeSet<String> = values.iter().map(Value::to_string).collect();
            assert_eq!(self.literals(&ty), expected, "{at}: enum values");
        } else {
            match schema["type"].as_str() {
                Some("integer" | "number") => assert_eq!(ty, "number", "{at}"),
                Some("string") => assert_eq!(ty, "string", "{at}"),
                Some("boolean") => assert_eq!(ty, "boolean", "{at}"),
                Some("array") => {
                    let item =
                        ty.strip_suffix("[]").unwrap_or_else(|| panic!("{at}: an array type, not `{ty}`"));
                    self.check_type(&format!("{at}[]"), &schema["items"], item);
                }
                Some("object") => self.check_interface(at, schema, &ty),
                other => panic!("{at}: schema type {other:?} not handled"),
            }
        }
    }

    fn check_interface(&self, at: &str, schema: &Value, name: &str) {
        let properties =
            self.ts.interfaces.get(name).unwrap_or_else(|| panic!("{at}: no interface `{name}`"));
        let schema_properties = schema["properties"].as_object().expect("properties");
        let required: BTreeSet<&str> =
            schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let ts_names: BTreeSet<&str> = properties.iter().map(|(n, _, _)| n.as_str()).collect();
        let schema_names: BTreeSet<&str> = schema_properties.keys().map(String::as_str).collect();
        assert_eq!(ts_names, schema_names, "{at}: the properties of `{name}`");
        for (property, optional, ty) in properties {
            let at = format!("{at}.{property}");
            assert_eq!(*optional, !required.contains(property.as_str()), "{at}: optional iff not required");
            self.check_type(&at, &schema_properties[property], ty);
        }
    }
}

#[test]
fn the_typescript_types_match_the_json_schema() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{root}status-event.schema.json")).unwrap())
            .unwrap();
    let ts = parse_typescript(&std::fs::read_to_string(format!("{root}status-event.d.ts")).unwrap());
    let defs = schema["$defs"].as_object().unwrap();
    let checker = Checker { defs, ts: &ts };

    // Every object the schema defines is typed.
    let objects: BTreeSet<&str> = defs
        .iter()
        .filter(|(_, d)| d.get("type") == Some(&Value::from("object")))
        .map(|(n, _)| n.as_str())
        .collect();
    let typed: BTreeSet<&str> = MESSAGES.iter().map(|(def, _)| *def).collect();
    assert_eq!(objects, typed, "every message of the schema has an interface here");
    for (def, interface) in MESSAGES {
        checker.check_interface(def, &defs[def], interface);
    }

    // `ServerMessage` is the schema's top-level `oneOf`.
    let server: BTreeSet<String> = schema["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let def = r["$ref"].as_str().unwrap().strip_prefix("#/$defs/").unwrap();
            MESSAGES.iter().find(|(d, _)| *d == def).unwrap().1.to_owned()
        })
        .collect();
    assert_eq!(members(&ts.aliases["ServerMessage"]), server);
}

#[test]
fn the_checker_notices_a_wrong_optionality_or_enum() {
    let schema: Value = serde_json::json!({"$defs": {
        "kind": {"enum": ["a", "b"]},
        "m": {"type": "object", "required": ["x"], "properties": {
            "x": {"$ref": "#/$defs/kind"}, "y": {"type": ["integer", "null"]}
        }}
    }});
    let defs = schema["$defs"].as_object().unwrap();
    let check = |source: &str| {
        let ts = parse_typescript(source);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Checker { defs, ts: &ts }.check_interface("m", &defs["m"], "M");
        }))
        .is_ok()
    };
    assert!(check("export type K = \"a\" | \"b\";\nexport interface M {\n x: K;\n y?: number | null;\n}"));
    assert!(!check("export type K = \"a\";\nexport interface M {\n x: K;\n y?: number | null;\n}"));
    assert!(!check("export type K = \"a\" | \"b\";\nexport interface M {\n x?: K;\n y?: number | null;\n}"));
    assert!(!check("export type K = \"a\" | \"b\";\nexport interface M {\n x: K;\n y?: number;\n}"));
    assert!(!check("export type K = \"a\" | \"b\";\nexport interface M {\n x: K;\n}"));
}

/// Status events as the server writes them, with and without each optional field, against
/// the schema: every field it requires, no field it does not know, and no `null` (a field
/// that is not set is left out).
#[test]
fn status_events_on_the_wire_match_the_json_schema() {
    use worker_utils::status::{JobStatus, StatusError, StatusEvent};
    use worker_utils::{ErrorKind, JobId};

    let schema: Value = serde_json::from_str(include_str!("../docs/status-event.schema.json")).unwrap();
    let status = &schema["$defs"]["status"];
    let known: BTreeSet<&str> =
        status["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let required: BTreeSet<&str> =
        status["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();

    let pending = StatusEvent::new(JobId::new(1), "q", JobStatus::Pending);
    let completed = StatusEvent::new(JobId::new(1), "q", JobStatus::Completed)
        .previous(JobStatus::Processing)
        .duration(std::time::Duration::from_millis(5));
    let mut redelivery =
        StatusEvent::new(JobId::new(1), "q", JobStatus::Pending).previous(JobStatus::Processing);
    redelivery.due_at_ms = Some(1_700_000_000_000);
    redelivery.error = Some(StatusError::new(ErrorKind::Transient, "reset"));
    for (event, optional) in [
        (pending, vec![]),
        (completed, vec!["previous", "duration_ms"]),
        (redelivery, vec!["previous", "due_at_ms", "error"]),
    ] {
        let json = serde_json::to_value(&event).unwrap();
        let sent: BTreeSet<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = required.iter().copied().chain(optional).collect();
        assert_eq!(sent, expected, "{json}");
        assert!(sent.is_subset(&known), "{json}");
        assert!(json.as_object().unwrap().values().all(|value| !value.is_null()), "{json}");
    }
}
