//! Request bodies: size limit before parsing, Cinder's content types, Cinder's errors.

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::borrow::Cow;

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

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
        JsonBody::read(req, payload, limit)
    }
}

impl JsonBody {
    /// Reads the body as [`JsonBody`]'s extractor does, with a bound of its own: a route
    /// that takes a few fields (the console's sign-in) refuses far sooner than
    /// `max_body_bytes`.
    pub fn read(
        req: &HttpRequest,
        payload: &mut Payload,
        limit: usize,
    ) -> LocalBoxFuture<'static, Result<Self, ApiError>> {
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

/// A request body shaped `{"<KEY>": {...}}`, whose inner object deserializes to `Self`.
/// `Self` is also the body's OpenAPI schema, so the fields the document lists are the
/// fields the parser reads. Each field is an `Option` of a newtype of [`super::fields`]
/// (a required one is checked by the handler, with the message Cinder gives), so every
/// refusal is worded by the field's own `Deserialize`.
pub trait Envelope: DeserializeOwned + ToSchema + 'static {
    /// The one key of the body, e.g. `volume`.
    const KEY: &'static str;
    /// The microversion 3.x from which keys the type does not have are refused (Cinder's
    /// 3.53 strict schemas); `Some(0)` refuses them at every version, `None` at none.
    /// Below it they are ignored, as Cinder ignores them.
    const STRICT_FROM: Option<u16>;
    /// Whether the body may hold no key but [`Envelope::KEY`] (Cinder's
    /// `additionalProperties: false` at the top, which some of its schemas have).
    const ONLY_KEY: bool = false;
}

/// A typed body: [`JsonBody`]'s checks (size, content type, depth, NUL), then the
/// envelope's key, the keys it allows at the request's microversion, and each field's
/// own `Deserialize`, with Cinder's messages at each step.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

impl<T: Envelope> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ver = super::version::of(req);
        let strict = T::STRICT_FROM.is_some_and(|minor| ver.at_least(3, minor));
        let json = JsonBody::from_request(req, payload);
        Box::pin(async move {
            let JsonBody(body) = json.await?;
            parse(body, strict).map(Body)
        })
    }
}

/// The envelope's schema, `{"<KEY>": <T>}`, named `<T>Request`: what a handler's
/// `#[utoipa::path(request_body = ...)]` names (through a type alias, as the macro reads
/// a plain path). `T`'s own schema comes along as a component; a strict body
/// ([`Envelope::STRICT_FROM`]) says `additionalProperties: false`, since the document
/// describes the newest microversion.
impl<T: Envelope> PartialSchema for Body<T> {
    fn schema() -> RefOr<Schema> {
        let envelope = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!("`{{\"{}\": <{}>}}`.", T::KEY, T::name())))
            .property(T::KEY, Ref::from_schema_name(T::name()))
            .required(T::KEY);
        if T::ONLY_KEY {
            envelope
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .into()
        } else {
            envelope.into()
        }
    }
}

impl<T: Envelope> ToSchema for Body<T> {
    fn name() -> Cow<'static, str> {
        format!("{}Request", T::name()).into()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        let mut item = T::schema();
        if let (Some(_), RefOr::T(Schema::Object(o))) = (T::STRICT_FROM, &mut item) {
            o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
        }
        schemas.push((T::name().into_owned(), item));
        T::schemas(schemas);
    }
}

/// A typed body that is not wrapped in an envelope: the whole JSON document is a `T`
/// (e.g. `PUT /types/{id}/extra_specs/{key}`'s `{"<key>": "<value>"}`). An empty body
/// is read as `null`, which `T` accepts or refuses with its own words.
#[derive(Debug, Clone)]
pub struct Whole<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Whole<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = JsonBody::from_request(req, payload);
        Box::pin(async move {
            let JsonBody(body) = json.await?;
            typed(body).map(Whole)
        })
    }
}

/// `T`'s own schema under `T`'s name: the body is a `T`.
impl<T: ToSchema> PartialSchema for Whole<T> {
    fn schema() -> RefOr<Schema> {
        T::schema()
    }
}

impl<T: ToSchema> ToSchema for Whole<T> {
    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        T::schemas(schemas);
    }
}

/// `value` as a `T`, for a handler that reads its body after checks Cinder makes first
/// (a policy rule, the action in the path): the same type, parsed a step later.
pub fn typed<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The schema of an action body: one key, the action's name, whose value is that
/// action's arguments (`T` of each pair).
pub fn actions(arms: Vec<(&str, RefOr<Schema>)>) -> RefOr<Schema> {
    let arms = arms.into_iter().map(|(name, args)| {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(name, args)
            .required(name)
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build()
    });
    let mut one_of = utoipa::openapi::schema::OneOfBuilder::new();
    for arm in arms {
        one_of = one_of.item(arm);
    }
    one_of
        .description(Some(
            "One key, the action's name, whose value is its arguments.",
        ))
        .into()
}

/// `body[T::KEY]` as a `T`. With `strict`, a key `T` does not have is refused with
/// Cinder's `Additional properties are not allowed` message.
pub fn parse<T: Envelope>(mut body: Value, strict: bool) -> Result<T, ApiError> {
    element(&body, T::KEY)?;
    if T::ONLY_KEY
        && let Value::Object(map) = &body
        && let Some(k) = map.keys().find(|k| *k != T::KEY)
    {
        return Err(unexpected(None, k));
    }
    let item = body[T::KEY].take();
    if strict
        && let Value::Object(map) = &item
        && let Some(k) = map.keys().find(|k| !fields::<T>().contains(&k.as_str()))
    {
        return Err(unexpected(Some(T::KEY), k));
    }
    // Every field is an `Option` of a checked newtype (see `fields`), whose own
    // `Deserialize` writes the whole Cinder message: serde adds nothing to it.
    serde_json::from_value(item).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// Cinder's refusal of a key a strict schema does not have, inside `element` (`None`:
/// at the top of the body, where its message names no field).
pub fn unexpected(element: Option<&str>, key: &str) -> ApiError {
    let why = format!("Additional properties are not allowed ('{key}' was unexpected)");
    ApiError::BadRequest(match element {
        Some(e) => format!("Invalid input for field/attribute {e}. {why}"),
        None => why,
    })
}

/// For `#[serde(default, deserialize_with = "given")]` on an `Option<Option<T>>`: a key
/// given (even as `null`, which is `Some(None)`) is told apart from a key left out
/// (`None`, the default), as an update that clears a field needs.
pub fn given<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// The field names serde's derive gives `T` (its `FIELDS`), read by asking `T` to
/// deserialize itself from a deserializer that records them and stops.
pub fn fields<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut found: &'static [&'static str] = &[];
    let _refused = T::deserialize(FieldNames(&mut found));
    found
}

/// See [`fields`].
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("fields recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
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

    use super::super::snapshots::SnapshotUpdate;
    use super::super::volumes::{VolumeCreate, VolumeUpdate};
    use super::{Envelope, parse};

    fn refusal<T: Envelope + std::fmt::Debug>(body: serde_json::Value, strict: bool) -> String {
        match parse::<T>(body, strict) {
            Ok(t) => format!("accepted {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_keys_are_refused_only_when_strict() {
        let body = json!({"volume": {"size": 1, "colour": "red"}});
        assert_eq!(
            refusal::<VolumeCreate>(body.clone(), true),
            "Invalid input for field/attribute volume. Additional properties are not allowed ('colour' was unexpected)"
        );
        assert!(parse::<VolumeCreate>(body, false).is_ok());
        assert_eq!(
            refusal::<SnapshotUpdate>(json!({"snapshot": {"size": 1}}), true),
            "Invalid input for field/attribute snapshot. Additional properties are not allowed ('size' was unexpected)"
        );
    }

    #[test]
    fn the_envelope_and_each_field_get_cinders_messages() {
        assert_eq!(
            refusal::<VolumeCreate>(json!({"size": 1}), false),
            "Missing required element 'volume' in request body."
        );
        assert_eq!(
            refusal::<VolumeCreate>(json!({"volume": [1]}), false),
            "Invalid input for field/attribute volume. Value: [1]. It is not an object."
        );
        assert_eq!(
            refusal::<VolumeCreate>(json!({"volume": {"size": "1.0"}}), true),
            "Invalid input for field/attribute size. Value: \"1.0\". '1.0' does not match '^[0-9]+$'"
        );
        assert_eq!(
            refusal::<VolumeCreate>(json!({"volume": {"size": 2147483648u64}}), true),
            "Invalid input for field/attribute size. Value: 2147483648. 2147483648 is greater than the maximum of 2147483647"
        );
        assert!(
            refusal::<VolumeCreate>(json!({"volume": {"multiattach": true}}), true)
                .starts_with("multiattach parameter has been removed.")
        );
    }

    #[test]
    fn a_body_of_one_key_refuses_any_other() {
        use super::super::encryption::EncryptionSpecs;
        use super::super::transfers::TransferAccept;
        let only = json!({"encryption": {"provider": "luks"}, "extra": 1});
        assert_eq!(
            refusal::<EncryptionSpecs>(only, false),
            "Additional properties are not allowed ('extra' was unexpected)"
        );
        // Inside the element, Cinder's encryption schema takes other keys.
        assert!(parse::<EncryptionSpecs>(json!({"encryption": {"x": 1}}), false).is_ok());
        assert_eq!(
            refusal::<TransferAccept>(json!({"accept": {"auth_key": "k", "x": 1}}), true),
            "Invalid input for field/attribute accept. Additional properties are not allowed ('x' was unexpected)"
        );
        assert!(parse::<VolumeCreate>(json!({"volume": {"size": 1}, "x": 1}), true).is_ok());
    }

    #[test]
    fn an_update_tells_null_from_absent() -> Result<(), super::ApiError> {
        let u = parse::<VolumeUpdate>(json!({"volume": {"name": null}}), true)?;
        assert!(matches!(u.name, Some(None)) && u.description.is_none());
        let u = parse::<VolumeUpdate>(json!({"volume": {"display_name": " x "}}), true)?;
        assert_eq!(
            u.display_name.flatten().map(String::from).as_deref(),
            Some("x")
        );
        Ok(())
    }

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
