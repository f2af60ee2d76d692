//! Schema checks with Cinder's error wording:
//! `Invalid input for field/attribute <field>. Value: <value>. <reason>`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::ApiError;

/// Cinder's `db.MAX_INT`: the largest size a volume may ask for.
pub const MAX_INT: u64 = 2_147_483_647;

/// Cinder's schema error, which echoes the value. The echo is clipped (as the log clips
/// it): a 1 MiB name must not come back as a 1 MiB answer.
pub fn invalid(field: &str, value: &Value, reason: impl std::fmt::Display) -> ApiError {
    let value = value.to_string();
    let value = crate::logging::Clipped(&value);
    ApiError::BadRequest(format!(
        "Invalid input for field/attribute {field}. Value: {value}. {reason}"
    ))
}

/// `items` unless it holds more than `max` (the config's `max_metadata_items`): every
/// metadata, extra-spec and QoS-spec map a request carries passes here before anything
/// is written. A merge is counted again, with the keys already there, by the database
/// write.
pub fn capped(
    items: BTreeMap<String, String>,
    max: usize,
) -> Result<BTreeMap<String, String>, ApiError> {
    if items.len() > max {
        return Err(crate::actors::error::ServiceError::too_many_items(items.len(), max).into());
    }
    Ok(items)
}

/// A volume size: a JSON integer or a string of digits, 1 to 2^31-1. `null` is `None`.
pub fn size(field: &str, v: Option<&Value>) -> Result<Option<u64>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let n: i128 = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => match n.as_u64() {
                Some(u) => u.into(),
                None => {
                    return Err(invalid(
                        field,
                        v,
                        format!("{v} is not of type 'integer', 'string'"),
                    ));
                }
            },
        },
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    field,
                    v,
                    format!("'{s}' does not match '^[0-9]+$'"),
                ));
            }
            t.parse::<i128>().unwrap_or(i128::MAX)
        }
        _ => {
            return Err(invalid(
                field,
                v,
                format!("{v} is not of type 'integer', 'string'"),
            ));
        }
    };
    if n < 1 {
        return Err(invalid(
            field,
            v,
            format!("{n} is less than the minimum of 1"),
        ));
    }
    if n > MAX_INT as i128 {
        return Err(invalid(
            field,
            v,
            format!("{n} is greater than the maximum of {MAX_INT}"),
        ));
    }
    Ok(Some(n as u64))
}

/// A name or description: string or null, trimmed, at most 255 characters, no control
/// characters.
pub fn text(field: &str, v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.chars().count() > 255 {
                return Err(invalid(
                    field,
                    &Value::String(s.clone()),
                    "It is longer than 255 characters.",
                ));
            }
            if t.chars().any(char::is_control) {
                return Err(invalid(
                    field,
                    &Value::String(s.clone()),
                    "It contains control characters.",
                ));
            }
            Ok(Some(t.to_string()))
        }
        Some(other) => Err(invalid(
            field,
            other,
            format!("{other} is not of type 'string', 'null'"),
        )),
    }
}

/// An id given as a string (or null); must be a UUID.
pub fn uuid(field: &str, v: Option<&Value>) -> Result<Option<String>, ApiError> {
    match text(field, v)? {
        None => Ok(None),
        Some(s) => uuid::Uuid::parse_str(&s)
            .map(|u| Some(u.to_string()))
            .map_err(|_| {
                invalid(
                    field,
                    &Value::String(s.clone()),
                    format!("'{s}' is not a 'uuid'"),
                )
            }),
    }
}

fn metadata_key_ok(k: &str) -> bool {
    !k.is_empty()
        && k.chars().count() <= 255
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:. /".contains(c))
}

/// Metadata: an object of string keys (`^[a-zA-Z0-9-_:. /]{1,255}$`) to strings of at
/// most 255 characters. `null` is empty.
pub fn metadata(field: &str, v: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let map = match v {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(invalid(
                field,
                other,
                format!("{other} is not of type 'object'"),
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (k, val) in map {
        if !metadata_key_ok(k) {
            return Err(invalid(
                field,
                v.unwrap_or(&Value::Null),
                format!("'{k}' is not a valid metadata key"),
            ));
        }
        let Value::String(s) = val else {
            return Err(invalid(
                &format!("{field}/{k}"),
                val,
                format!("{val} is not of type 'string'"),
            ));
        };
        if s.chars().count() > 255 {
            return Err(invalid(
                &format!("{field}/{k}"),
                val,
                "It is longer than 255 characters.",
            ));
        }
        if s.chars().any(|c| c == '\0') {
            return Err(invalid(
                &format!("{field}/{k}"),
                val,
                "It contains a NUL character.",
            ));
        }
        out.insert(k.clone(), s.clone());
    }
    Ok(out)
}

/// Cinder's `bool_from_string` for query values.
pub fn boolean(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// A JSON boolean or one of Cinder's boolean strings, refused with the schema's words
/// (`is not of type 'boolean'`).
pub fn boolean_value(field: &str, v: &Value) -> Result<bool, ApiError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => boolean(s).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Invalid input for field/attribute {field}. Value: {v}. {v} is not of type 'boolean'"
            ))
        }),
        other => Err(ApiError::BadRequest(format!(
            "Invalid input for field/attribute {field}. Value: {other}. {other} is not of type 'boolean'"
        ))),
    }
}

/// Extra specs: keys `^[a-zA-Z0-9-_:.]{1,255}$` (no spaces), string values of at most 255.
pub fn extra_specs(field: &str, v: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let invalid = |reason: String| {
        ApiError::BadRequest(format!(
            "Invalid input for field/attribute {field}. Value: {}. {reason}",
            v.unwrap_or(&Value::Null)
        ))
    };
    let map = match v {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(invalid(format!("{other} is not of type 'object'"))),
    };
    let mut out = BTreeMap::new();
    for (k, val) in map {
        let key_ok = !k.is_empty()
            && k.chars().count() <= 255
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c));
        if !key_ok {
            return Err(invalid(format!(
                "Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let Value::String(s) = val else {
            return Err(invalid(format!("{val} is not of type 'string'")));
        };
        if s.chars().count() > 255 {
            return Err(invalid(format!("'{s}' is too long")));
        }
        out.insert(k.clone(), s.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sizes_follow_cinders_schema() {
        assert_eq!(size("size", Some(&json!(1))).ok().flatten(), Some(1));
        assert_eq!(size("size", Some(&json!("10"))).ok().flatten(), Some(10));
        assert_eq!(size("size", Some(&json!(null))).ok().flatten(), None);
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("abc"),
            json!("1.0"),
            json!(true),
            json!(2147483648u64),
            json!("99999999999999999999999"),
        ] {
            let err = size("size", Some(&bad))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.starts_with("Invalid input for field/attribute size."),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn metadata_checks_keys_and_values() {
        assert!(metadata("metadata", Some(&json!({"a b:c": "x"}))).is_ok());
        assert!(metadata("metadata", Some(&json!({"": "x"}))).is_err());
        assert!(metadata("metadata", Some(&json!({"k": 1}))).is_err());
        assert!(metadata("metadata", Some(&json!({"k": "x".repeat(256)}))).is_err());
        assert!(metadata("metadata", Some(&json!(["k"]))).is_err());
    }

    #[test]
    fn text_trims_and_limits() {
        assert_eq!(
            text("name", Some(&json!("  a  ")))
                .ok()
                .flatten()
                .as_deref(),
            Some("a")
        );
        assert!(text("name", Some(&json!("x".repeat(256)))).is_err());
        assert!(text("name", Some(&json!("a\u{0}b"))).is_err());
        assert!(text("name", Some(&json!(5))).is_err());
    }

    #[test]
    fn an_echoed_value_is_clipped() {
        let long = "n".repeat(1 << 20);
        let Err(e) = text("name", Some(&json!(long))) else {
            panic!("a 1 MiB name was accepted");
        };
        let msg = e.to_string();
        assert!(msg.len() < 1024, "{} bytes echoed", msg.len());
        assert!(msg.contains("bytes)") && msg.ends_with("It is longer than 255 characters."));
        // Short values are echoed whole, as Cinder does.
        let Err(e) = text("name", Some(&json!(["x\ny"]))) else {
            panic!("a list was accepted as a name");
        };
        assert!(e.to_string().contains(r#"Value: ["x\ny"]. "#), "{e}");
    }
}
