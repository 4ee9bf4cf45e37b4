//! The Swagger 2.0 document in the protobuf form kubectl asks for.
//!
//! client-go requests `/openapi/v2` as
//! `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and decodes
//! the body as gnostic's `openapi.v2.Document` message, with no JSON
//! fallback. This encodes the JSON document from [`super::v2_document`] into
//! that message. Field numbers are gnostic's (`openapiv2/OpenAPIv2.proto`).
//! Extensions and free-form values (`default`, `example`, `enum`) travel as
//! YAML text; JSON is YAML, so they are written as JSON.

use serde_json::{Map, Value};

/// Encodes a Swagger 2.0 JSON document as an `openapi.v2.Document`.
pub fn v2_protobuf(document: &Value) -> Vec<u8> {
    let mut out = Message::default();
    out.string(1, text(document, "swagger"));
    if let Some(info) = document.get("info") {
        out.message(2, &info_message(info));
    }
    out.strings(5, document.get("schemes"));
    if let Some(Value::Object(paths)) = document.get("paths") {
        out.message(8, &paths_message(paths));
    }
    if let Some(Value::Object(definitions)) = document.get("definitions") {
        out.message(9, &named_schemas(definitions));
    }
    for requirement in array(document.get("security")) {
        out.message(12, &security_requirement(requirement));
    }
    if let Some(Value::Object(definitions)) = document.get("securityDefinitions") {
        out.message(13, &security_definitions(definitions));
    }
    out.extensions(16, document);
    out.0
}

/// A protobuf message under construction: fields appended in order,
/// proto3 defaults (empty, zero, false) left out.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, value: &str) {
        if !value.is_empty() {
            self.bytes(field, value.as_bytes());
        }
    }

    /// A repeated string field from a JSON array of strings.
    fn strings(&mut self, field: u32, values: Option<&Value>) {
        for value in array(values) {
            if let Some(value) = value.as_str() {
                self.bytes(field, value.as_bytes());
            }
        }
    }

    fn boolean(&mut self, field: u32, value: Option<&Value>) {
        if value.and_then(Value::as_bool) == Some(true) {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int64(&mut self, field: u32, value: Option<&Value>) {
        if let Some(number) = value.and_then(Value::as_i64).filter(|n| *n != 0) {
            self.key(field, 0);
            // Negative numbers are their two's complement, as protobuf says.
            self.varint(number as u64);
        }
    }

    fn double(&mut self, field: u32, value: Option<&Value>) {
        if let Some(number) = value.and_then(Value::as_f64).filter(|n| *n != 0.0) {
            self.key(field, 1);
            self.0.extend_from_slice(&number.to_le_bytes());
        }
    }

    /// An embedded message; written even when empty, since an empty message
    /// still selects a `oneof` branch.
    fn message(&mut self, field: u32, message: &Message) {
        self.bytes(field, &message.0);
    }

    /// `repeated NamedAny vendor_extension`: every `x-` key of an object.
    fn extensions(&mut self, field: u32, object: &Value) {
        let Some(map) = object.as_object() else { return };
        for (name, value) in map.iter().filter(|(name, _)| name.starts_with("x-")) {
            self.message(field, &named_any(name, value));
        }
    }
}

fn text<'a>(object: &'a Value, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or("")
}

fn array(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// `Any`: a free-form value as YAML text (field 2).
fn any(value: &Value) -> Message {
    let mut out = Message::default();
    out.string(2, &value.to_string());
    out
}

/// `NamedAny { name = 1; value = 2 }`.
fn named_any(name: &str, value: &Value) -> Message {
    let mut out = Message::default();
    out.string(1, name);
    out.message(2, &any(value));
    out
}

fn info_message(info: &Value) -> Message {
    let mut out = Message::default();
    out.string(1, text(info, "title"));
    out.string(2, text(info, "version"));
    out.string(3, text(info, "description"));
    out.extensions(7, info);
    out
}

/// `Paths { vendor_extension = 1; repeated NamedPathItem path = 2 }`.
fn paths_message(paths: &Map<String, Value>) -> Message {
    let mut out = Message::default();
    for (path, item) in paths {
        let mut named = Message::default();
        named.string(1, path);
        named.message(2, &path_item(item));
        out.message(2, &named);
    }
    out
}

fn path_item(item: &Value) -> Message {
    const METHODS: &[(&str, u32)] =
        &[("get", 2), ("put", 3), ("post", 4), ("delete", 5), ("options", 6), ("head", 7), ("patch", 8)];
    let mut out = Message::default();
    out.string(1, text(item, "$ref"));
    for (method, field) in METHODS {
        if let Some(operation) = item.get(*method) {
            out.message(*field, &operation_message(operation));
        }
    }
    for parameter in array(item.get("parameters")) {
        out.message(9, &parameters_item(parameter));
    }
    out.extensions(10, item);
    out
}

fn operation_message(operation: &Value) -> Message {
    let mut out = Message::default();
    out.strings(1, operation.get("tags"));
    out.string(2, text(operation, "summary"));
    out.string(3, text(operation, "description"));
    out.string(5, text(operation, "operationId"));
    out.strings(6, operation.get("produces"));
    out.strings(7, operation.get("consumes"));
    for parameter in array(operation.get("parameters")) {
        out.message(8, &parameters_item(parameter));
    }
    if let Some(Value::Object(responses)) = operation.get("responses") {
        out.message(9, &responses_message(responses));
    }
    out.strings(10, operation.get("schemes"));
    out.boolean(11, operation.get("deprecated"));
    out.extensions(13, operation);
    out
}

/// `ParametersItem`: a reference (2) or a parameter (1), which is a body
/// parameter (1) or a query/path parameter (`NonBodyParameter`, 2).
fn parameters_item(parameter: &Value) -> Message {
    let mut out = Message::default();
    if let Some(reference) = parameter.get("$ref").and_then(Value::as_str) {
        let mut json_reference = Message::default();
        json_reference.string(1, reference);
        json_reference.string(2, text(parameter, "description"));
        out.message(2, &json_reference);
        return out;
    }
    let mut wrapper = Message::default();
    match text(parameter, "in") {
        "body" => wrapper.message(1, &body_parameter(parameter)),
        location => {
            let mut non_body = Message::default();
            match location {
                "path" => non_body.message(4, &path_parameter(parameter)),
                "header" => non_body.message(1, &header_parameter(parameter)),
                _ => non_body.message(3, &query_parameter(parameter)),
            }
            wrapper.message(2, &non_body);
        }
    }
    out.message(1, &wrapper);
    out
}

fn body_parameter(parameter: &Value) -> Message {
    let mut out = Message::default();
    out.string(1, text(parameter, "description"));
    out.string(2, text(parameter, "name"));
    out.string(3, "body");
    out.boolean(4, parameter.get("required"));
    if let Some(schema) = parameter.get("schema") {
        out.message(5, &schema_message(schema));
    }
    out.extensions(6, parameter);
    out
}

/// `QueryParameterSubSchema`.
fn query_parameter(parameter: &Value) -> Message {
    let mut out = Message::default();
    out.boolean(1, parameter.get("required"));
    out.string(2, text(parameter, "in"));
    out.string(3, text(parameter, "description"));
    out.string(4, text(parameter, "name"));
    out.string(6, text(parameter, "type"));
    out.string(7, text(parameter, "format"));
    out.boolean(20, parameter.get("uniqueItems"));
    out.extensions(23, parameter);
    out
}

/// `PathParameterSubSchema` (and `HeaderParameterSubSchema`, which numbers
/// its fields the same way).
fn path_parameter(parameter: &Value) -> Message {
    let mut out = Message::default();
    out.boolean(1, parameter.get("required"));
    out.string(2, text(parameter, "in"));
    out.string(3, text(parameter, "description"));
    out.string(4, text(parameter, "name"));
    out.string(5, text(parameter, "type"));
    out.string(6, text(parameter, "format"));
    out.boolean(19, parameter.get("uniqueItems"));
    out.extensions(22, parameter);
    out
}

fn header_parameter(parameter: &Value) -> Message {
    path_parameter(parameter)
}

/// `Responses { repeated NamedResponseValue response_code = 1 }`.
fn responses_message(responses: &Map<String, Value>) -> Message {
    let mut out = Message::default();
    for (code, response) in responses.iter().filter(|(code, _)| !code.starts_with("x-")) {
        let mut value = Message::default();
        value.message(1, &response_message(response));
        let mut named = Message::default();
        named.string(1, code);
        named.message(2, &value);
        out.message(1, &named);
    }
    out
}

fn response_message(response: &Value) -> Message {
    let mut out = Message::default();
    out.string(1, text(response, "description"));
    if let Some(schema) = response.get("schema") {
        let mut item = Message::default();
        item.message(1, &schema_message(schema));
        out.message(2, &item);
    }
    out.extensions(5, response);
    out
}

/// `Definitions` and `Properties`: `repeated NamedSchema additional_properties = 1`.
fn named_schemas(schemas: &Map<String, Value>) -> Message {
    let mut out = Message::default();
    for (name, schema) in schemas {
        let mut named = Message::default();
        named.string(1, name);
        named.message(2, &schema_message(schema));
        out.message(1, &named);
    }
    out
}

fn schema_message(schema: &Value) -> Message {
    let mut out = Message::default();
    out.string(1, text(schema, "$ref"));
    out.string(2, text(schema, "format"));
    out.string(3, text(schema, "title"));
    out.string(4, text(schema, "description"));
    if let Some(default) = schema.get("default") {
        out.message(5, &any(default));
    }
    write_bounds(&mut out, schema);
    out.strings(19, schema.get("required"));
    for value in array(schema.get("enum")) {
        out.message(20, &any(value));
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(allowed)) => out.message(21, &boolean_message(2, *allowed)),
        Some(additional @ Value::Object(_)) => out.message(21, &embedded(1, schema_message(additional))),
        _ => {}
    }
    write_type(&mut out, schema.get("type"));
    match schema.get("items") {
        Some(items @ Value::Object(_)) => out.message(23, &embedded(1, schema_message(items))),
        Some(Value::Array(items)) => {
            let mut list = Message::default();
            items.iter().for_each(|item| list.message(1, &schema_message(item)));
            out.message(23, &list);
        }
        _ => {}
    }
    for part in array(schema.get("allOf")) {
        out.message(24, &schema_message(part));
    }
    if let Some(Value::Object(properties)) = schema.get("properties") {
        out.message(25, &named_schemas(properties));
    }
    out.string(26, text(schema, "discriminator"));
    out.boolean(27, schema.get("readOnly"));
    if let Some(example) = schema.get("example") {
        out.message(30, &any(example));
    }
    out.extensions(31, schema);
    out
}

/// The numeric and pattern constraints of a schema, fields 6 to 18.
fn write_bounds(out: &mut Message, schema: &Value) {
    out.double(6, schema.get("multipleOf"));
    out.double(7, schema.get("maximum"));
    out.boolean(8, schema.get("exclusiveMaximum"));
    out.double(9, schema.get("minimum"));
    out.boolean(10, schema.get("exclusiveMinimum"));
    out.int64(11, schema.get("maxLength"));
    out.int64(12, schema.get("minLength"));
    out.string(13, text(schema, "pattern"));
    out.int64(14, schema.get("maxItems"));
    out.int64(15, schema.get("minItems"));
    out.boolean(16, schema.get("uniqueItems"));
    out.int64(17, schema.get("maxProperties"));
    out.int64(18, schema.get("minProperties"));
}

/// `TypeItem { repeated string value = 1 }` from a type name or names.
fn write_type(out: &mut Message, value: Option<&Value>) {
    let mut types = Message::default();
    match value {
        Some(Value::String(name)) => types.string(1, name),
        Some(names @ Value::Array(_)) => types.strings(1, Some(names)),
        _ => return,
    }
    out.message(22, &types);
}

fn embedded(field: u32, message: Message) -> Message {
    let mut out = Message::default();
    out.message(field, &message);
    out
}

/// A message whose only field is a bool, written even when false (a
/// `oneof` branch is chosen by presence).
fn boolean_message(field: u32, value: bool) -> Message {
    let mut out = Message::default();
    out.key(field, 0);
    out.varint(u64::from(value));
    out
}

/// `SecurityRequirement { repeated NamedStringArray additional_properties = 1 }`.
fn security_requirement(requirement: &Value) -> Message {
    let mut out = Message::default();
    for (name, scopes) in requirement.as_object().into_iter().flatten() {
        let mut values = Message::default();
        values.strings(1, Some(scopes));
        let mut named = Message::default();
        named.string(1, name);
        named.message(2, &values);
        out.message(1, &named);
    }
    out
}

/// `SecurityDefinitions`; only API keys (bearer tokens) are described.
fn security_definitions(definitions: &Map<String, Value>) -> Message {
    let mut out = Message::default();
    for (name, definition) in definitions {
        let mut api_key = Message::default();
        api_key.string(1, text(definition, "type"));
        api_key.string(2, text(definition, "name"));
        api_key.string(3, text(definition, "in"));
        api_key.string(4, text(definition, "description"));
        let mut named = Message::default();
        named.string(1, name);
        named.message(2, &embedded(2, api_key));
        out.message(1, &named);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal protobuf reader for checking what was written.
    fn fields(mut bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (key, rest) = read_varint(bytes);
            bytes = rest;
            let (field, wire_type) = ((key >> 3) as u32, key & 7);
            match wire_type {
                0 => {
                    let (value, rest) = read_varint(bytes);
                    bytes = rest;
                    out.push((field, value.to_le_bytes().to_vec()));
                }
                1 => {
                    out.push((field, bytes[..8].to_vec()));
                    bytes = &bytes[8..];
                }
                2 => {
                    let (len, rest) = read_varint(bytes);
                    let len = len as usize;
                    out.push((field, rest[..len].to_vec()));
                    bytes = &rest[len..];
                }
                other => panic!("unexpected wire type {other}"),
            }
        }
        out
    }

    fn read_varint(bytes: &[u8]) -> (u64, &[u8]) {
        let mut value = 0u64;
        for (i, byte) in bytes.iter().enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return (value, &bytes[i + 1..]);
            }
        }
        panic!("truncated varint")
    }

    fn field(bytes: &[u8], number: u32) -> Vec<Vec<u8>> {
        fields(bytes).into_iter().filter(|(n, _)| *n == number).map(|(_, v)| v).collect()
    }

    fn string(bytes: &[u8], number: u32) -> String {
        field(bytes, number).first().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
    }

    #[test]
    fn varints_and_keys() {
        let mut message = Message::default();
        message.varint(300);
        assert_eq!(message.0, [0xac, 0x02]);
        let mut message = Message::default();
        message.string(1, "2.0");
        assert_eq!(message.0, [0x0a, 3, b'2', b'.', b'0']);
        let mut negative = Message::default();
        negative.int64(11, Some(&json!(-1)));
        assert_eq!(negative.0.len(), 11, "key and ten varint bytes");
    }

    #[test]
    fn patch_operation_parameters_and_extensions_are_encoded() {
        let document = json!({
            "swagger": "2.0",
            "info": {"title": "Kubernetes", "version": "v1.33.0"},
            "paths": {"/api/v1/namespaces/{namespace}/pods/{name}": {
                "patch": {
                    "operationId": "patchCoreV1NamespacedPod",
                    "consumes": ["application/strategic-merge-patch+json"],
                    "parameters": [
                        {"name": "body", "in": "body", "required": true, "schema": {"$ref": "#/definitions/P"}},
                        {"name": "fieldValidation", "in": "query", "type": "string", "uniqueItems": true},
                    ],
                    "responses": {"200": {"description": "OK", "schema": {"$ref": "#/definitions/Pod"}}},
                    "x-kubernetes-group-version-kind": {"group": "", "kind": "Pod", "version": "v1"},
                },
                "parameters": [{"name": "name", "in": "path", "required": true, "type": "string"}],
            }},
        });
        let bytes = v2_protobuf(&document);
        assert_eq!(string(&bytes, 1), "2.0");
        let paths = &field(&bytes, 8)[0];
        let named = &field(paths, 2)[0];
        assert_eq!(string(named, 1), "/api/v1/namespaces/{namespace}/pods/{name}");
        let item = &field(named, 2)[0];
        let patch = &field(item, 8)[0];
        assert_eq!(string(patch, 5), "patchCoreV1NamespacedPod");
        let parameters = field(patch, 8);
        assert_eq!(parameters.len(), 2);
        let query = &field(&field(&field(&field(&parameters[1], 1)[0], 2)[0], 3)[0], 4);
        assert_eq!(String::from_utf8_lossy(&query[0]), "fieldValidation");
        let extension = &field(patch, 13)[0];
        assert_eq!(string(extension, 1), "x-kubernetes-group-version-kind");
        let yaml = string(&field(extension, 2)[0], 2);
        assert_eq!(
            serde_json::from_str::<Value>(&yaml).ok(),
            Some(json!({"group": "", "kind": "Pod", "version": "v1"}))
        );
        let path_param = &field(&field(&field(&field(item, 9)[0], 1)[0], 2)[0], 4)[0];
        assert_eq!(string(path_param, 4), "name");
    }

    #[test]
    fn schemas_encode_types_refs_maps_and_arrays() {
        let schema = json!({
            "type": "object",
            "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "items": {"type": "array", "items": {"$ref": "#/definitions/X"}, "x-kubernetes-list-type": "atomic"},
                "open": {"additionalProperties": false},
                "n": {"type": "integer", "minimum": 1.5, "maxLength": 3},
            },
            "required": ["items"],
        });
        let bytes = schema_message(&schema).0;
        assert_eq!(string(&field(&bytes, 22)[0], 1), "object");
        assert_eq!(string(&bytes, 19), "items");
        let properties: Vec<Vec<u8>> = field(&field(&bytes, 25)[0], 1);
        assert_eq!(properties.len(), 4);
        let labels = &field(&properties[0], 2)[0];
        let value = &field(&field(labels, 21)[0], 1)[0];
        assert_eq!(string(&field(value, 22)[0], 1), "string");
        let items = &field(&properties[1], 2)[0];
        assert_eq!(string(&field(&field(items, 23)[0], 1)[0], 1), "#/definitions/X");
        assert_eq!(string(&field(items, 31)[0], 1), "x-kubernetes-list-type");
        let closed = &field(&properties[2], 2)[0];
        assert_eq!(field(&field(closed, 21)[0], 2), [0u64.to_le_bytes().to_vec()]);
        let number = &field(&properties[3], 2)[0];
        assert_eq!(field(number, 9), [1.5f64.to_le_bytes().to_vec()]);
    }

    #[test]
    fn whole_document_encodes() {
        let registry = crate::registry::Registry::new();
        let bytes = v2_protobuf(&super::super::v2_document(&registry));
        let top = fields(&bytes);
        assert!(top.iter().any(|(n, _)| *n == 9), "definitions");
        assert!(top.iter().any(|(n, _)| *n == 13), "security definitions");
    }
}
