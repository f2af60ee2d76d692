//! Newtypes for the constrained fields of request bodies. Each one checks its value in
//! its own `Deserialize`, with the message [`validate`] gives (Cinder's
//! `Invalid input for field/attribute <field>. Value: <value>. <reason>`), and describes
//! the same constraint in its `ToSchema`, so the OpenAPI document says what the parser
//! accepts: a body struct made of these cannot drift from its schema.
//!
//! The field a message names is a type parameter ([`Field`]): one check, several names
//! (`name`, `display_name`, `volume_type`, ...), each a marker type in [`key`].

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error as _};
use serde_json::Value;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{RefOr, schema::AdditionalProperties};
use utoipa::{PartialSchema, ToSchema};

use super::validate;

/// The name a field has in the body, for its error messages.
pub trait Field {
    /// As in the JSON, e.g. `display_name`.
    const NAME: &'static str;
}

/// Declares the marker types of [`key`].
macro_rules! keys {
    ($($ty:ident = $name:literal;)*) => {
        $(
            #[doc = concat!("The `", $name, "` field.")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq)]
            pub enum $ty {}

            impl super::Field for $ty {
                const NAME: &'static str = $name;
            }
        )*
    };
}

/// One marker type per field name that a checked field takes.
pub mod key {
    keys! {
        Size = "size";
        NewSize = "new_size";
        Name = "name";
        DisplayName = "display_name";
        Description = "description";
        DisplayDescription = "display_description";
        VolumeType = "volume_type";
        AvailabilityZone = "availability_zone";
        ImageRef = "imageRef";
        ImageId = "image_id";
        SnapshotId = "snapshot_id";
        SourceVolid = "source_volid";
        BackupId = "backup_id";
        ConsistencygroupId = "consistencygroup_id";
        GroupId = "group_id";
        VolumeId = "volume_id";
        Force = "force";
        IsPublic = "is_public";
        VolumeUuid = "volume_uuid";
        Project = "project";
        Bootable = "bootable";
        Readonly = "readonly";
        HostName = "host_name";
        Mountpoint = "mountpoint";
        Mode = "mode";
        AttachmentId = "attachment_id";
        NewType = "new_type";
        Host = "host";
        Binary = "binary";
        Service = "service";
        InstanceUuid = "instance_uuid";
        AccessIsPublic = "os-volume-type-access:is_public";
        NoSnapshots = "no_snapshots";
        AuthKey = "auth_key";
        Provider = "provider";
        Cipher = "cipher";
        ExtraSpecs = "extra_specs";
        GroupSpecs = "group_specs";
    }
}

/// Reads the raw JSON value of `field` and applies a [`validate`] check to it. A `null`,
/// which the check passes as `None`, is refused with Cinder's words: serde's `Option`
/// takes `null` before these types see it, so only a field that needs a value gets here.
fn required<'de, D, T>(
    d: D,
    field: &str,
    wanted: &str,
    check: impl FnOnce(&str, Option<&Value>) -> Result<Option<T>, super::error::ApiError>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    checked(d, |v| check(field, Some(v)))?.ok_or_else(|| {
        D::Error::custom(format!(
            "Invalid input for field/attribute {field}. Value: None. None is not of type {wanted}"
        ))
    })
}

/// Reads the raw JSON value, then applies `check`, whose `ApiError` becomes the serde
/// error (its text is the whole message).
fn checked<'de, D, T>(
    d: D,
    check: impl FnOnce(&Value) -> Result<T, super::error::ApiError>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Value::deserialize(d)?;
    check(&v).map_err(D::Error::custom)
}

fn object() -> ObjectBuilder {
    ObjectBuilder::new()
}

/// A size in GiB: a JSON integer or a string of digits, 1 to 2^31-1 (Cinder's
/// `volume_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gib<F>(pub u64, PhantomData<F>);

/// `size` of a volume create.
pub type Size = Gib<key::Size>;

impl<F> Gib<F> {
    /// The number of GiB.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de, F: Field> Deserialize<'de> for Gib<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        required(d, F::NAME, "'integer', 'string'", validate::size).map(|n| Gib(n, PhantomData))
    }
}

impl<F> PartialSchema for Gib<F> {
    fn schema() -> RefOr<Schema> {
        // As Cinder's schema: `minimum`/`maximum` bind integers, `pattern` binds strings.
        object()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
            .minimum(Some(1))
            .maximum(Some(validate::MAX_INT))
            .pattern(Some("^[0-9]+$"))
            .description(Some("GiB: an integer, or a string of digits."))
            .into()
    }
}

impl<F> ToSchema for Gib<F> {
    fn name() -> Cow<'static, str> {
        "Gib".into()
    }
}

/// A name, description or other free text: trimmed, at most 255 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<F>(pub String, PhantomData<F>);

/// `name`.
pub type Name = Text<key::Name>;
/// `display_name`, the older spelling of `name`.
pub type DisplayName = Text<key::DisplayName>;
/// `description`.
pub type Description = Text<key::Description>;
/// `display_description`, the older spelling of `description`.
pub type DisplayDescription = Text<key::DisplayDescription>;
/// `availability_zone`.
pub type AvailabilityZone = Text<key::AvailabilityZone>;
/// `volume_type`: a type's name or id.
pub type VolumeTypeRef = Text<key::VolumeType>;
/// `imageRef`: an image's id (not checked as a UUID, as in Cinder).
pub type ImageRef = Text<key::ImageRef>;
/// `image_id`, the older spelling of `imageRef`.
pub type ImageId = Text<key::ImageId>;

impl<F> From<Text<F>> for String {
    fn from(t: Text<F>) -> String {
        t.0
    }
}

/// A field's text or, when the field is absent, its older spelling's (`name`, else
/// `display_name`), as Cinder reads them.
pub fn newer_or_older<A, B>(newer: Option<Text<A>>, older: Option<Text<B>>) -> Option<String> {
    newer.map(String::from).or_else(|| older.map(String::from))
}

/// [`newer_or_older`] for an update, where a field given as `null` (`Some(None)`) clears
/// it and wins over the older spelling just as a value does.
pub fn given_newer_or_older<A, B>(
    newer: Option<Option<Text<A>>>,
    older: Option<Option<Text<B>>>,
) -> Option<Option<String>> {
    let text = |t: Option<Text<_>>| t.map(String::from);
    newer
        .map(text)
        .or_else(|| older.map(|t| t.map(String::from)))
}

impl<'de, F: Field> Deserialize<'de> for Text<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        required(d, F::NAME, "'string'", validate::text).map(|s| Text(s, PhantomData))
    }
}

impl<F> PartialSchema for Text<F> {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(Type::String)
            .max_length(Some(255))
            .into()
    }
}

impl<F> ToSchema for Text<F> {
    fn name() -> Cow<'static, str> {
        "Text".into()
    }
}

/// The id of something the request refers to: a UUID in any of its spellings, kept in
/// the hyphenated lower-case form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdRef<F>(pub String, PhantomData<F>);

/// `snapshot_id`.
pub type SnapshotRef = IdRef<key::SnapshotId>;
/// `source_volid`.
pub type SourceVolumeRef = IdRef<key::SourceVolid>;
/// `backup_id`.
pub type BackupRef = IdRef<key::BackupId>;
/// `consistencygroup_id`.
pub type ConsistencyGroupRef = IdRef<key::ConsistencygroupId>;
/// `group_id`.
pub type GroupRef = IdRef<key::GroupId>;
/// `volume_id`.
pub type VolumeRef = IdRef<key::VolumeId>;

impl<F> From<IdRef<F>> for String {
    fn from(i: IdRef<F>) -> String {
        i.0
    }
}

impl<'de, F: Field> Deserialize<'de> for IdRef<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        required(d, F::NAME, "'string'", validate::uuid).map(|s| IdRef(s, PhantomData))
    }
}

impl<F> PartialSchema for IdRef<F> {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uuid".into())))
            .into()
    }
}

impl<F> ToSchema for IdRef<F> {
    fn name() -> Cow<'static, str> {
        "IdRef".into()
    }
}

/// A boolean a client may also send as a string: Cinder's `bool_from_string` words
/// (`"true"`, `"yes"`, `"1"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag<F>(pub bool, PhantomData<F>);

impl<F> Flag<F> {
    /// The boolean.
    pub fn get(self) -> bool {
        self.0
    }
}

impl<'de, F: Field> Deserialize<'de> for Flag<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let refused = |shown: &dyn std::fmt::Display| {
            D::Error::custom(format!("Invalid value '{shown}' for {}.", F::NAME))
        };
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(Flag(b, PhantomData)),
            Value::String(s) => match validate::boolean(&s) {
                Some(b) => Ok(Flag(b, PhantomData)),
                None => Err(refused(&crate::logging::Clipped(&s))),
            },
            other => Err(refused(&crate::logging::Clipped(&other.to_string()))),
        }
    }
}

impl<F> PartialSchema for Flag<F> {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(SchemaType::from_iter([Type::Boolean, Type::String]))
            .description(Some(
                "A boolean, or one of the strings true, false, yes, no, on, off, 1, 0, t, f, y, n.",
            ))
            .into()
    }
}

impl<F> ToSchema for Flag<F> {
    fn name() -> Cow<'static, str> {
        "Flag".into()
    }
}

/// `force` of a snapshot create.
pub type Force = Flag<key::Force>;

/// User metadata: keys of 1 to 255 characters from `[a-zA-Z0-9-_:. /]`, string values
/// of at most 255 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(pub BTreeMap<String, String>);

impl Metadata {
    /// The pairs.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| validate::metadata("metadata", Some(v))).map(Metadata)
    }
}

impl PartialSchema for Metadata {
    fn schema() -> RefOr<Schema> {
        string_map("^[a-zA-Z0-9-_:. /]{1,255}$").into()
    }
}

impl ToSchema for Metadata {}

/// Cinder's answer to `"multiattach": true`.
pub const MULTIATTACH_REMOVED: &str = "multiattach parameter has been removed. The default behavior is to use multiattach enabled volume types. Contact your administrator to create a multiattach enabled volume type and use it to create multiattach volumes.";

/// `multiattach` of a volume create: Cinder removed it; `true` is refused with its
/// message (a multiattach type is the way now) and anything else is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multiattach;

impl<'de> Deserialize<'de> for Multiattach {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(true) => Err(D::Error::custom(MULTIATTACH_REMOVED)),
            _ => Ok(Multiattach),
        }
    }
}

impl PartialSchema for Multiattach {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(Type::Boolean)
            .description(Some(
                "Removed: `true` is refused (use a multiattach volume type).",
            ))
            .into()
    }
}

impl ToSchema for Multiattach {}

/// A boolean where Cinder's schema says `boolean` (its `parameter_types.boolean`): a
/// JSON boolean or one of the `bool_from_string` words, anything else refused as
/// `is not of type 'boolean'` (where [`Flag`] answers `Invalid value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boolean<F>(pub bool, PhantomData<F>);

impl<F> Boolean<F> {
    /// The boolean.
    pub fn get(self) -> bool {
        self.0
    }
}

impl<'de, F: Field> Deserialize<'de> for Boolean<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| validate::boolean_value(F::NAME, v)).map(|b| Boolean(b, PhantomData))
    }
}

impl<F> PartialSchema for Boolean<F> {
    fn schema() -> RefOr<Schema> {
        Flag::<F>::schema()
    }
}

impl<F> ToSchema for Boolean<F> {
    fn name() -> Cow<'static, str> {
        "Boolean".into()
    }
}

/// A volume type's name on create: [`Text`]'s checks, and not empty once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName(pub String);

/// Cinder's answer to a type create whose name is missing or empty; `raw` is the name as
/// sent (`null` when absent).
pub fn type_name_missing(raw: &Value) -> super::error::ApiError {
    super::error::ApiError::BadRequest(format!(
        "Invalid input for field/attribute name. Value: {raw}. Name has a minimum character requirement of 1."
    ))
}

impl<'de> Deserialize<'de> for TypeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| {
            validate::text("name", Some(v))?
                .filter(|n| !n.is_empty())
                .map(TypeName)
                .ok_or_else(|| type_name_missing(v))
        })
    }
}

impl PartialSchema for TypeName {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(255))
            .into()
    }
}

impl ToSchema for TypeName {}

/// Spec pairs of a type, named by `F` in messages (`extra_specs` of a volume type,
/// `group_specs` of a group type, one schema in Cinder): keys of 1 to 255 characters
/// from `[a-zA-Z0-9-_:.]`, string values of at most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Specs<F>(pub BTreeMap<String, String>, PhantomData<F>);

/// A volume type's extra specs.
pub type ExtraSpecs = Specs<key::ExtraSpecs>;
/// A group type's group specs.
pub type GroupSpecs = Specs<key::GroupSpecs>;

impl<F> Default for Specs<F> {
    fn default() -> Self {
        Specs(BTreeMap::new(), PhantomData)
    }
}

impl<F> Specs<F> {
    /// The pairs.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl<'de, F: Field> Deserialize<'de> for Specs<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| validate::extra_specs(F::NAME, Some(v))).map(|m| Specs(m, PhantomData))
    }
}

/// The schema of a string map whose keys match `key_pattern`.
fn string_map(key_pattern: &str) -> ObjectBuilder {
    let value = object().schema_type(Type::String).max_length(Some(255));
    let key = object()
        .schema_type(Type::String)
        .pattern(Some(key_pattern));
    object()
        .schema_type(Type::Object)
        .property_names(Some(key))
        .additional_properties(Some(AdditionalProperties::RefOr(value.into())))
}

impl<F> PartialSchema for Specs<F> {
    fn schema() -> RefOr<Schema> {
        string_map("^[a-zA-Z0-9-_:.]{1,255}$").into()
    }
}

impl<F: Field> ToSchema for Specs<F> {
    /// `ExtraSpecs`, `GroupSpecs`: the field's name in camel case, so the two are two
    /// components of the document.
    fn name() -> Cow<'static, str> {
        F::NAME
            .split('_')
            .flat_map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase())
                    .into_iter()
                    .chain(c)
            })
            .collect::<String>()
            .into()
    }
}

/// The body of `PUT /types/{id}/extra_specs/{key}`: one extra spec, `{"<key>": "<value>"}`
/// (none when the body is empty or `{}`). More than one is refused here with Cinder's
/// words; whether the key is the path's is the handler's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraSpec(pub Option<(String, String)>);

impl<'de> Deserialize<'de> for ExtraSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| {
            let specs = validate::extra_specs("extra_specs", Some(v))?;
            if specs.len() > 1 {
                return Err(super::error::ApiError::BadRequest(
                    "Request body contains too many items.".into(),
                ));
            }
            Ok(ExtraSpec(specs.into_iter().next()))
        })
    }
}

impl PartialSchema for ExtraSpec {
    fn schema() -> RefOr<Schema> {
        string_map("^[a-zA-Z0-9-_:.]{1,255}$")
            .min_properties(Some(1))
            .max_properties(Some(1))
            .description(Some("One extra spec: `{\"<key>\": \"<value>\"}`."))
            .into()
    }
}

impl ToSchema for ExtraSpec {}

/// A host's connector (`initiator`, `host`, ...), as `os-brick` describes it: an
/// object, kept as sent. Anything else is taken as no connector, which the call then
/// refuses or does without, as Cinder does.
#[derive(Debug, Clone, PartialEq)]
pub struct Connector(pub Option<Value>);

impl<'de> Deserialize<'de> for Connector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Connector(v.is_object().then_some(v)))
    }
}

impl PartialSchema for Connector {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(Type::Object)
            .description(Some("The host's connector: `initiator`, `host`, `ip`, ..."))
            .into()
    }
}

impl ToSchema for Connector {}

/// A string, where the reader takes any other JSON value as absent (as Cinder's admin
/// actions read `body.get('status')`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loose(pub Option<String>);

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Loose(match Value::deserialize(d)? {
            Value::String(s) => Some(s),
            _ => None,
        }))
    }
}

impl PartialSchema for Loose {
    fn schema() -> RefOr<Schema> {
        object().schema_type(Type::String).into()
    }
}

impl ToSchema for Loose {
    fn name() -> Cow<'static, str> {
        "LooseString".into()
    }
}

/// The schema of an action that takes no arguments: `null` or `{}`.
pub fn no_arguments() -> RefOr<Schema> {
    object()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(0))
        .into()
}

/// `new_size` of `os-extend`.
pub type NewSize = Gib<key::NewSize>;
/// `volume_uuid` of an attachment create.
pub type VolumeUuid = IdRef<key::VolumeUuid>;
/// `instance_uuid`.
pub type InstanceUuid = Text<key::InstanceUuid>;
/// `host_name` of `os-attach`.
pub type HostName = Text<key::HostName>;
/// `mountpoint` of `os-attach`.
pub type Mountpoint = Text<key::Mountpoint>;
/// `mode` of `os-attach`.
pub type Mode = Text<key::Mode>;
/// `attachment_id` of `os-detach`.
pub type AttachmentId = Text<key::AttachmentId>;
/// `new_type` of `os-retype`.
pub type NewType = Text<key::NewType>;
/// `project` of a type-access action.
pub type Project = Text<key::Project>;
/// `host` of a service update.
pub type Host = Text<key::Host>;
/// `binary` of a service update.
pub type Binary = Text<key::Binary>;
/// `service`, the older name of `binary`.
pub type Service = Text<key::Service>;
/// `is_public` of a type update.
pub type IsPublic = Boolean<key::IsPublic>;
/// `os-volume-type-access:is_public` of a type create.
pub type AccessIsPublic = Boolean<key::AccessIsPublic>;

/// A boolean as Cinder's `parameter_types.boolean` takes it (`type: ['boolean',
/// 'string']`): a JSON boolean or one of the `bool_from_string` words. Other strings
/// are refused as `is not a valid boolean`, other types as `is not of type 'boolean',
/// 'string'` (where [`Boolean`] says `'boolean'` alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoolOrWord<F>(pub bool, PhantomData<F>);

impl<F> BoolOrWord<F> {
    /// The boolean.
    pub fn get(self) -> bool {
        self.0
    }
}

impl<'de, F: Field> Deserialize<'de> for BoolOrWord<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| match v {
            Value::Bool(b) => Ok(*b),
            // The value unquoted, as the transfer create has always written it.
            Value::String(s) => validate::boolean(s).ok_or_else(|| {
                let s = crate::logging::Clipped(s);
                super::error::ApiError::BadRequest(format!(
                    "Invalid input for field/attribute {}. Value: {s}. '{s}' is not a valid boolean.",
                    F::NAME
                ))
            }),
            other => Err(validate::invalid(
                F::NAME,
                v,
                format!("{other} is not of type 'boolean', 'string'"),
            )),
        })
        .map(|b| BoolOrWord(b, PhantomData))
    }
}

impl<F> PartialSchema for BoolOrWord<F> {
    fn schema() -> RefOr<Schema> {
        Flag::<F>::schema()
    }
}

impl<F> ToSchema for BoolOrWord<F> {
    fn name() -> Cow<'static, str> {
        "BoolOrWord".into()
    }
}

/// `no_snapshots` of a transfer create (3.55).
pub type NoSnapshots = BoolOrWord<key::NoSnapshots>;

/// A string, or an integer taken as its digits (Cinder's `type: ['string', 'integer']`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringOrInteger<F>(pub String, PhantomData<F>);

impl<F> From<StringOrInteger<F>> for String {
    fn from(s: StringOrInteger<F>) -> String {
        s.0
    }
}

impl<'de, F: Field> Deserialize<'de> for StringOrInteger<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            other => Err(validate::invalid(
                F::NAME,
                v,
                format!("{other} is not of type 'string', 'integer'"),
            )),
        })
        .map(|s| StringOrInteger(s, PhantomData))
    }
}

impl<F> PartialSchema for StringOrInteger<F> {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(SchemaType::from_iter([Type::String, Type::Integer]))
            .into()
    }
}

impl<F> ToSchema for StringOrInteger<F> {
    fn name() -> Cow<'static, str> {
        "StringOrInteger".into()
    }
}

/// `auth_key` of a transfer accept.
pub type AuthKey = StringOrInteger<key::AuthKey>;

/// A string of at most 255 characters, taken as sent (not trimmed, where [`Text`] trims).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Short<F>(pub String, PhantomData<F>);

impl<F> From<Short<F>> for String {
    fn from(s: Short<F>) -> String {
        s.0
    }
}

impl<'de, F: Field> Deserialize<'de> for Short<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| match v {
            Value::String(s) if s.chars().count() <= 255 => Ok(s.clone()),
            Value::String(_) => Err(validate::invalid(
                F::NAME,
                v,
                "It is longer than 255 characters.",
            )),
            other => Err(validate::invalid(
                F::NAME,
                v,
                format!("{other} is not of type 'string'"),
            )),
        })
        .map(|s| Short(s, PhantomData))
    }
}

impl<F> PartialSchema for Short<F> {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(Type::String)
            .max_length(Some(255))
            .into()
    }
}

impl<F> ToSchema for Short<F> {
    fn name() -> Cow<'static, str> {
        "Short".into()
    }
}

/// `provider` of a type's encryption (e.g. `luks`).
pub type Provider = Short<key::Provider>;
/// `cipher` of a type's encryption (e.g. `aes-xts-plain64`).
pub type Cipher = Short<key::Cipher>;

/// `key_size` of a type's encryption: bits, 0 to Cinder's `DB_MAX_INT`, as an integer or
/// a string of digits (Cinder converts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySize(pub i64);

impl<'de> Deserialize<'de> for KeySize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            n.filter(|n| (0..=MAX_KEY_SIZE).contains(n))
                .map(KeySize)
                .ok_or_else(|| {
                    validate::invalid(
                        "key_size",
                        v,
                        "It must be an integer between 0 and 2147483647.",
                    )
                })
        })
    }
}

/// Cinder's `DB_MAX_INT`, the largest key size it stores.
const MAX_KEY_SIZE: i64 = 0x7FFF_FFFF;

impl PartialSchema for KeySize {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
            .minimum(Some(0))
            .maximum(Some(MAX_KEY_SIZE))
            .pattern(Some("^[0-9]+$"))
            .description(Some("Bits: an integer, or a string of digits."))
            .into()
    }
}

impl ToSchema for KeySize {}

/// Where a type's encryption keys are used: by the consumer (Nova) or by the storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::AsRefStr)]
pub enum ControlLocation {
    /// The consumer (Nova) encrypts.
    #[strum(serialize = "front-end")]
    FrontEnd,
    /// The storage encrypts.
    #[strum(serialize = "back-end")]
    BackEnd,
}

impl<'de> Deserialize<'de> for ControlLocation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked(d, |v| {
            v.as_str().and_then(|s| s.parse().ok()).ok_or_else(|| {
                validate::invalid(
                    "control_location",
                    v,
                    format!("{v} is not one of ['front-end', 'back-end']"),
                )
            })
        })
    }
}

impl PartialSchema for ControlLocation {
    fn schema() -> RefOr<Schema> {
        object()
            .schema_type(Type::String)
            .enum_values(Some(["front-end", "back-end"]))
            .into()
    }
}

impl ToSchema for ControlLocation {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message<T: serde::de::DeserializeOwned + std::fmt::Debug>(v: Value) -> String {
        match serde_json::from_value::<T>(v) {
            Ok(t) => format!("accepted {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn messages_are_those_of_validate() {
        for v in [
            json!(0),
            json!("abc"),
            json!(1.5),
            json!(true),
            json!(2147483648u64),
        ] {
            let want = validate::size("size", Some(&v))
                .err()
                .map(|e| e.to_string());
            assert_eq!(Some(message::<Size>(v.clone())), want, "{v}");
        }
        assert_eq!(
            message::<Gib<key::NewSize>>(json!(0)),
            "Invalid input for field/attribute new_size. Value: 0. 0 is less than the minimum of 1"
        );
        assert_eq!(
            message::<DisplayName>(json!(5)),
            "Invalid input for field/attribute display_name. Value: 5. 5 is not of type 'string', 'null'"
        );
        assert_eq!(
            message::<IdRef<key::SnapshotId>>(json!("nope")),
            "Invalid input for field/attribute snapshot_id. Value: \"nope\". 'nope' is not a 'uuid'"
        );
        assert_eq!(
            message::<Metadata>(json!({"k": 5})),
            "Invalid input for field/attribute metadata/k. Value: 5. 5 is not of type 'string'"
        );
        assert_eq!(
            message::<Name>(json!(null)),
            "Invalid input for field/attribute name. Value: None. None is not of type 'string'"
        );
        assert!(message::<Multiattach>(json!(true)).starts_with("multiattach parameter"));
    }

    #[test]
    fn type_fields_have_cinders_messages() {
        assert_eq!(
            message::<IsPublic>(json!("maybe")),
            "Invalid input for field/attribute is_public. Value: \"maybe\". \"maybe\" is not of type 'boolean'"
        );
        assert_eq!(
            message::<TypeName>(json!("  ")),
            "Invalid input for field/attribute name. Value: \"  \". Name has a minimum character requirement of 1."
        );
        assert_eq!(
            message::<ExtraSpecs>(json!({"a b": "c"})),
            "Invalid input for field/attribute extra_specs. Value: {\"a b\":\"c\"}. Additional properties are not allowed ('a b' was unexpected)"
        );
        assert_eq!(
            message::<ExtraSpec>(json!({"a": "1", "b": "2"})),
            "Request body contains too many items."
        );
    }

    #[test]
    fn transfer_and_encryption_fields_have_cinders_messages() {
        assert_eq!(
            message::<NoSnapshots>(json!("maybe")),
            "Invalid input for field/attribute no_snapshots. Value: maybe. 'maybe' is not a valid boolean."
        );
        assert_eq!(
            message::<NoSnapshots>(json!(5)),
            "Invalid input for field/attribute no_snapshots. Value: 5. 5 is not of type 'boolean', 'string'"
        );
        assert_eq!(
            message::<AuthKey>(json!([1])),
            "Invalid input for field/attribute auth_key. Value: [1]. [1] is not of type 'string', 'integer'"
        );
        assert_eq!(
            message::<AuthKey>(json!(1.5)),
            "Invalid input for field/attribute auth_key. Value: 1.5. 1.5 is not of type 'string', 'integer'"
        );
        assert_eq!(
            message::<Provider>(json!(7)),
            "Invalid input for field/attribute provider. Value: 7. 7 is not of type 'string'"
        );
        assert!(
            message::<Cipher>(json!("c".repeat(256)))
                .ends_with("It is longer than 255 characters.")
        );
        for bad in [json!(-1), json!("big"), json!(2147483648u64), json!(1.5)] {
            assert_eq!(
                message::<KeySize>(bad.clone()),
                format!(
                    "Invalid input for field/attribute key_size. Value: {bad}. It must be an integer between 0 and 2147483647."
                )
            );
        }
        assert_eq!(
            message::<ControlLocation>(json!("middle")),
            "Invalid input for field/attribute control_location. Value: \"middle\". \"middle\" is not one of ['front-end', 'back-end']"
        );
        assert_eq!(
            message::<GroupSpecs>(json!({"a b": "c"})),
            "Invalid input for field/attribute group_specs. Value: {\"a b\":\"c\"}. Additional properties are not allowed ('a b' was unexpected)"
        );
    }

    #[test]
    fn transfer_and_encryption_fields_take_what_cinder_takes() -> Result<(), serde_json::Error> {
        assert!(serde_json::from_value::<NoSnapshots>(json!("yes"))?.get());
        assert!(!serde_json::from_value::<NoSnapshots>(json!(false))?.get());
        assert_eq!(
            String::from(serde_json::from_value::<AuthKey>(json!(123))?),
            "123"
        );
        assert_eq!(
            String::from(serde_json::from_value::<Provider>(json!(" luks "))?),
            " luks ",
            "not trimmed"
        );
        assert_eq!(
            serde_json::from_value::<KeySize>(json!(" 256 "))?,
            KeySize(256)
        );
        assert_eq!(
            serde_json::from_value::<ControlLocation>(json!("back-end"))?.as_ref(),
            "back-end"
        );
        assert_eq!(ExtraSpecs::name(), "ExtraSpecs");
        assert_eq!(GroupSpecs::name(), "GroupSpecs");
        Ok(())
    }

    #[test]
    fn loose_values_are_read_as_absent() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::from_value::<Connector>(json!("x"))?,
            Connector(None)
        );
        assert_eq!(
            serde_json::from_value::<Connector>(json!({"host": "h"}))?,
            Connector(Some(json!({"host": "h"})))
        );
        assert_eq!(serde_json::from_value::<Loose>(json!(5))?, Loose(None));
        assert_eq!(
            serde_json::from_value::<ExtraSpec>(json!({}))?,
            ExtraSpec(None)
        );
        assert!(serde_json::from_value::<IsPublic>(json!("yes"))?.get());
        Ok(())
    }

    #[test]
    fn good_values_are_normalised() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::from_value::<Size>(json!("10"))?.get(), 10);
        assert_eq!(
            String::from(serde_json::from_value::<Name>(json!("  a  "))?),
            "a"
        );
        let id = "6F9619FF-8B86-D011-B42D-00CF4FC964FF";
        assert_eq!(
            String::from(serde_json::from_value::<BackupRef>(json!(id))?),
            id.to_ascii_lowercase()
        );
        assert_eq!(
            serde_json::from_value::<Multiattach>(json!(false))?,
            Multiattach
        );
        Ok(())
    }
}
