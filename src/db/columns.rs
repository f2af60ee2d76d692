//! How the domain's string enums are stored: as the exact TEXT Cinder writes, on both
//! backends (the `MultiBackend` included, through its `str`/`String` impls), so the
//! rows carry `VolumeStatus`/`SnapshotStatus` and no call site converts by hand.
//!
//! A value the enum does not know (a row written by another version, or edited by hand)
//! is a deserialization error naming the value, never a panic: the query fails as
//! [`super::DbError::Corrupt`] (field and value in its text), which the API answers as
//! a 500 and logs once with that cause. Guessing a status instead would let a state machine act on a state it does
//! not have (a `delete` accepted on a volume that is really busy).

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::model::{AttachStatus, SnapshotStatus, VolumeStatus};

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

        impl<DB> FromSql<Text, DB> for $t
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let s = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                s.parse()
                    .map_err(|e| format!("{} column: {e}", stringify!($t)).into())
            }
        }
    )+};
}

text_column!(VolumeStatus, SnapshotStatus, AttachStatus);
