//! Request bodies: size limit before parsing, Cinder's content types, Cinder's errors.

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;

/// A JSON body (`Value::Null` when the body is empty).
#[derive(Debug, Clone)]
pub struct JsonBody(pub Value);

const ACCEPTED: [&str; 2] = ["application/json", "application/vnd.openstack.volume+json"];

/// Deepest nesting accepted; deeper bodies are refused before they reach serde's recursion.
const MAX_DEPTH: usize = 32;

impl FromRequest for JsonBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(1024 * 1024, |s| s.max_body_bytes);
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let content_type = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let mut payload = payload.take();
        Box::pin(async move {
            let too_big =
                || ApiError::OverLimit(format!("Request body is larger than {limit} bytes."));
            if declared.is_some_and(|n| n > limit) {
                return Err(too_big());
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(super::intake::refusal)?;
                if body.len() + chunk.len() > limit {
                    return Err(too_big());
                }
                body.extend_from_slice(&chunk);
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody(Value::Null));
            }
            if let Some(ct) = content_type
                && !ACCEPTED.contains(&ct.as_str())
            {
                return Err(ApiError::UnsupportedMediaType(
                    "Unsupported Content-Type".into(),
                ));
            }
            if nesting(&body) > MAX_DEPTH {
                return Err(ApiError::BadRequest("Malformed request body".into()));
            }
            let value: Value = serde_json::from_slice(&body)
                .map_err(|_| ApiError::BadRequest("Malformed request body".into()))?;
            if has_nul(&value) {
                return Err(ApiError::BadRequest(
                    "Invalid input: the request body contains a NUL character.".into(),
                ));
            }
            Ok(JsonBody(value))
        })
    }
}

/// Whether any string of the document, key or value at any depth, holds a NUL (`\u0000`).
/// PostgreSQL refuses NUL in text ("invalid byte sequence", a 500) where SQLite keeps it,
/// so every field that reaches the database is refused here, once, for both backends.
pub fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Deepest bracket nesting outside strings.
fn nesting(body: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// `body[key]` as an object, or Cinder's missing-element error.
pub fn element<'a>(
    body: &'a Value,
    key: &str,
) -> Result<&'a serde_json::Map<String, Value>, ApiError> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(ApiError::BadRequest(format!(
            "Invalid input for field/attribute {key}. Value: {}. It is not an object.",
            body[key]
        ))),
        None => Err(ApiError::BadRequest(format!(
            "Missing required element '{key}' in request body."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn nul_is_found_in_keys_and_values_at_any_depth() {
        assert!(super::has_nul(&json!("a\u{0}b")));
        assert!(super::has_nul(
            &json!({"volume": {"metadata": {"k\u{0}": "v"}}})
        ));
        assert!(super::has_nul(&json!({"a": [1, {"b": ["x", "\u{0}"]}]})));
        assert!(!super::has_nul(
            &json!({"a": ["\\u0000", "0", null, 0, true]})
        ));
    }

    #[test]
    fn nesting_ignores_brackets_in_strings() {
        assert_eq!(super::nesting(br#"{"a": "[[[[{{{"}"#), 1);
        assert_eq!(super::nesting(br#"[[[1]]]"#), 3);
        assert_eq!(super::nesting(br#"{"a": "\"[", "b": [{}]}"#), 3);
    }
}
