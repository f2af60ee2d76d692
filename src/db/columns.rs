//! How typed values are stored, on both backends (the `MultiBackend` included): the
//! string enums, the ids and the `node@backend#pool` host as the exact TEXT Cinder
//! writes, the request spec as JSON text. Rows carry `VolumeStatus`, `SnapshotStatus`,
//! `AttachStatus`, `Host` and `RequestSpec`, so no call site converts by hand.
//!
//! A value the type does not know (a row written by another version, or edited by hand)
//! is a deserialization error naming the value, never a panic: the query fails as
//! [`super::DbError::Corrupt`] (field and value in its text), which the API answers as
//! a 500 and logs once with that cause. Guessing instead would let a state machine act
//! on a state it does not have (a `delete` accepted on a volume that is really busy).

use std::io::Write;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;

use super::MultiBackend;
use crate::model::spec::RequestSpec;
use crate::model::{
    AttachStatus, Host, NodeName, ProjectId, SnapshotId, SnapshotStatus, VolumeId, VolumeStatus,
};

/// Reads the column's TEXT as `$t` through `$parse` (an expression over the text `$s`
/// giving a `Result` whose error says what is wrong); a failure names the type.
macro_rules! from_text {
    ($t:ty, |$s:ident| $parse:expr) => {
        impl<DB> FromSql<Text, DB> for $t
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let $s = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                $parse.map_err(|e| format!("{} column: {e}", stringify!($t)).into())
            }
        }
    };
}

macro_rules! text_column {
    ($($t:ident),+ $(,)?) => {$(
        impl<DB> ToSql<Text, DB> for $t
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        from_text!($t, |s| s.parse::<$t>());
    )+};
}

text_column!(
    VolumeStatus,
    SnapshotStatus,
    AttachStatus,
    Host,
    ProjectId,
    NodeName
);

/// Values whose text is made when written: ids kept as a `Uuid`, structs kept as JSON.
/// Reading uses the generic `String` conversion; writing makes an owned buffer, which
/// only the concrete backends can take (the `MultiBackend` binds `(Text, self)` and lets
/// the chosen backend's impl run).
macro_rules! owned_text_column {
    ($t:ty, |$v:ident| $write:expr, |$s:ident| $parse:expr) => {
        impl ToSql<Text, Sqlite> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                let $v = self;
                out.set_value($write);
                Ok(IsNull::No)
            }
        }

        impl ToSql<Text, Pg> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                let $v = self;
                out.write_all(String::as_bytes(&$write))?;
                Ok(IsNull::No)
            }
        }

        impl ToSql<Text, MultiBackend> for $t {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(IsNull::No)
            }
        }

        from_text!($t, |$s| $parse);
    };
}

owned_text_column!(RequestSpec, |v| serde_json::to_string(v)?, |s| {
    serde_json::from_str::<RequestSpec>(&s).map_err(|e| format!("{e} in {s}"))
});
owned_text_column!(VolumeId, |v| v.to_string(), |s| s
    .parse::<VolumeId>()
    .map_err(|e| format!("{e} in {s}")));
owned_text_column!(SnapshotId, |v| v.to_string(), |s| s
    .parse::<SnapshotId>()
    .map_err(|e| format!("{e} in {s}")));
