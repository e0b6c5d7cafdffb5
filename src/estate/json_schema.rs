//! The JSON Schema of estate documents (`schemas/estate.schema.json`), generated
//! from the same attribute, parameter and permission data the reader checks
//! against, so that the two never disagree (a test compares it with the committed
//! file, as for `schemas/manifest.schema.json`).
//!
//! `connections` refers to the manifest schema's connection
//! (`manifest.schema.json#/$defs/connection`, relative to this file) rather than
//! copying it. Unknown attribute and parameter names stay allowed: the reader
//! only warns about them (an extension may declare them on the server).

use serde_json::{Map, Value, json};

use super::model::{GroupType, Level, SystemPermission};
use super::schema::EstateSchema;
use crate::schema::{Field, FieldType};

/// A value holding a secret reference, which any typed value may be.
const REFERENCE: &str = "\\$\\{(env|file):";

fn field_schema(f: &Field) -> Value {
    let description = format!("{:?}", f.field_type).to_uppercase();
    let typed = |kind: Value, pattern: &str| -> Value {
        json!({
            "anyOf": [
                {"type": kind, "pattern": pattern},
                {"type": "string", "pattern": REFERENCE},
                {"type": "null"}
            ],
            "description": description
        })
    };
    match f.field_type {
        FieldType::Numeric => typed(json!(["string", "integer"]), "^\\s*-?[0-9]+\\s*$"),
        FieldType::Boolean => typed(
            json!(["string", "boolean"]),
            "^\\s*([tT][rR][uU][eE]|[fF][aA][lL][sS][eE])\\s*$",
        ),
        FieldType::Date => typed(json!("string"), "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        FieldType::Time => typed(
            json!("string"),
            "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$",
        ),
        _ => json!({"type": ["string", "number", "boolean", "null"], "description": description}),
    }
}

fn fields_object(fields: &[&Field], description: &str) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| (f.name.clone(), field_schema(f)))
        .collect();
    json!({
        "type": ["object", "null"],
        "description": description,
        "properties": properties,
        "additionalProperties": {"type": ["string", "number", "boolean", "null"]}
    })
}

/// The schema document.
#[must_use]
#[allow(clippy::too_many_lines)] // one JSON literal, clearer whole
pub fn estate_json_schema(schema: &EstateSchema) -> Value {
    let user_attributes: Vec<&Field> = schema.user_attributes.iter().collect();
    let group_attributes: Vec<&Field> = schema.connection_group_attributes.iter().collect();
    let mut sharing: Vec<&Field> = Vec::new();
    for f in schema.sharing_parameters.values().flatten() {
        if !sharing.iter().any(|s| s.name == f.name) {
            sharing.push(f);
        }
    }
    let levels: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
    let system: Vec<&str> = SystemPermission::ALL.iter().map(|p| p.as_str()).collect();
    let types: Vec<&str> = GroupType::ALL.iter().map(|t| t.as_str()).collect();
    let list_of =
        |def: &str| json!({"type": ["array", "null"], "items": {"$ref": format!("#/$defs/{def}")}});
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "guacsync estate document",
        "description": "Users, user groups, connection groups, sharing profiles and connections of a Guacamole server (DESIGN.md §8). Generated from schemas/user-attributes.json, schemas/connection-group-attributes.json and schemas/sharing-profile-parameters.json; do not edit by hand.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "connectionGroups": list_of("connectionGroup"),
            "sharingProfiles": list_of("sharingProfile"),
            "userGroups": list_of("userGroup"),
            "users": list_of("user"),
            "connections": {
                "type": ["array", "null"],
                "description": "Connections in the format of Guacamole's batch import",
                "items": {"$ref": "manifest.schema.json#/$defs/connection"}
            }
        },
        "$defs": {
            "name": {
                "type": ["string", "number", "boolean"],
                "minLength": 1,
                "maxLength": 128
            },
            "names": {
                "type": ["array", "null"],
                "description": "Names of users or user groups",
                "items": {"type": ["string", "number", "boolean", "null"]}
            },
            "groupPath": {
                "type": "string",
                "description": "A connection group path such as ROOT/Prod/Web; `\\/` is a slash inside a name"
            },
            "connectionPath": {
                "type": "string",
                "description": "A connection's group path and name, such as ROOT/Prod/Web/web-1; `\\/` is a slash inside a name"
            },
            "levels": {
                "type": ["array", "null"],
                "items": {"enum": levels},
                "description": "Object permissions; [] grants none on the target"
            },
            "grants": {
                "type": ["object", "null"],
                "additionalProperties": {"$ref": "#/$defs/levels"}
            },
            "permissions": {
                "type": ["object", "null"],
                "description": "Object permissions of this principal; each kind written is exact (within the scope groups)",
                "additionalProperties": false,
                "properties": {
                    "connections": {"$ref": "#/$defs/grants", "description": "Keys are connection paths, ROOT/Prod/Web/web-1"},
                    "connectionGroups": {"$ref": "#/$defs/grants", "description": "Keys are group paths, ROOT/Prod (not ROOT)"},
                    "sharingProfiles": {"$ref": "#/$defs/grants", "description": "Keys are a connection path and the profile's name, ROOT/Prod/Web/web-1/watch-only"},
                    "users": {"$ref": "#/$defs/grants", "description": "Keys are usernames"},
                    "userGroups": {"$ref": "#/$defs/grants", "description": "Keys are user group names"}
                }
            },
            "system": {
                "type": ["array", "null"],
                "description": "System permissions, exact when written ([] revokes all); AUDIT needs Guacamole 1.6.0",
                "items": {"enum": system}
            },
            "disabled": {"type": ["boolean", "null"]},
            "connectionGroup": {
                "type": "object",
                "required": ["path"],
                "additionalProperties": false,
                "properties": {
                    "path": {"$ref": "#/$defs/groupPath"},
                    "type": {"enum": [types[0], types[1], null], "description": "ORGANIZATIONAL when created; left as it is when absent"},
                    "attributes": fields_object(&group_attributes, "Only the attributes written are managed; null clears one"),
                    "users": {"$ref": "#/$defs/names", "description": "Users given READ on the group"},
                    "groups": {"$ref": "#/$defs/names", "description": "User groups given READ on the group"}
                }
            },
            "sharingProfile": {
                "type": "object",
                "required": ["connection", "name"],
                "additionalProperties": false,
                "properties": {
                    "connection": {"$ref": "#/$defs/connectionPath"},
                    "name": {"$ref": "#/$defs/name"},
                    "parameters": fields_object(&sharing, "The profile's parameters, exact when written"),
                    "users": {"$ref": "#/$defs/names", "description": "Users given READ on the sharing profile"},
                    "groups": {"$ref": "#/$defs/names", "description": "User groups given READ on the sharing profile"}
                }
            },
            "userGroup": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": {
                    "name": {"$ref": "#/$defs/name"},
                    "disabled": {"$ref": "#/$defs/disabled"},
                    "members": {
                        "type": ["object", "null"],
                        "additionalProperties": false,
                        "properties": {
                            "users": {"$ref": "#/$defs/names", "description": "Member users, exact when written"},
                            "groups": {"$ref": "#/$defs/names", "description": "Member user groups, exact when written"}
                        }
                    },
                    "system": {"$ref": "#/$defs/system"},
                    "permissions": {"$ref": "#/$defs/permissions"}
                }
            },
            "user": {
                "type": "object",
                "required": ["username"],
                "additionalProperties": false,
                "properties": {
                    "username": {"$ref": "#/$defs/name"},
                    "password": {
                        "type": ["string", "number", "null"],
                        "minLength": 1,
                        "description": "Set when the user is created (and with --reset-password); write ${env:NAME} or ${file:PATH}"
                    },
                    "disabled": {"$ref": "#/$defs/disabled"},
                    "attributes": fields_object(&user_attributes, "Only the attributes written are managed; null clears one"),
                    "system": {"$ref": "#/$defs/system"},
                    "permissions": {"$ref": "#/$defs/permissions"}
                }
            }
        }
    })
}
