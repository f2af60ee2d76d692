//! Listing and removing the objects of a directory-based node (`file`, `qcow2`) for the
//! node's comparison of its backend with the database.
//!
//! Names are parsed, never trusted: only `volume-<uuid>`, `snapshot-<uuid>` and their
//! temp names (`.volume-<uuid>.tmp`, `.snapshot-<uuid>.tmp`) count, and a removal
//! rebuilds the path from the kind and the id rather than using the listed name.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::fsutil::{io_err, remove_if_present, sync_dir};
use super::provisioned::Provisioned;
use super::targets::Target;
use super::{BackingKind, BackingObject, DriverError};
use crate::model::VolumeId;

/// The kind, id and temp flag a file name stands for, if it is one of ours.
fn parse(name: &str) -> Option<(BackingKind, Uuid, bool)> {
    let (bare, temporary) = match name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) {
        Some(inner) => (inner, true),
        None => (name, false),
    };
    let (kind, id) = if let Some(id) = bare.strip_prefix("volume-") {
        (BackingKind::Volume, id)
    } else if let Some(id) = bare.strip_prefix("snapshot-") {
        (BackingKind::Snapshot, id)
    } else {
        return None;
    };
    // Only the canonical hyphenated form, so one object has exactly one name.
    let id = Uuid::parse_str(id).ok().filter(|u| u.to_string() == id)?;
    Some((kind, id, temporary))
}

/// The file an object lives in, rebuilt from its kind and id.
pub(crate) fn path_of(dir: &Path, object: &BackingObject) -> PathBuf {
    let base = match object.kind {
        BackingKind::Volume => format!("volume-{}", object.id),
        BackingKind::Snapshot => format!("snapshot-{}", object.id),
    };
    if object.temporary {
        dir.join(format!(".{base}.tmp"))
    } else {
        dir.join(base)
    }
}

/// Every object file in `dir`. `size_of` gives a final file's size (its apparent size,
/// or a qcow2 image's virtual size); `exported` whether a volume has an export.
pub(crate) fn list(
    dir: &Path,
    size_of: impl Fn(&Path, &fs::Metadata) -> u64,
    exported: impl Fn(&Uuid) -> Result<bool, DriverError>,
) -> Result<Vec<BackingObject>, DriverError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Some((kind, id, temporary)) = parse(&name) else {
            continue;
        };
        let meta = match entry.metadata() {
            Ok(m) if m.is_file() => m,
            Ok(_) => continue,
            // Removed between the listing and the stat: it is gone, so not listed.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("stat", &entry.path())(e)),
        };
        let size_bytes = if temporary {
            meta.len()
        } else {
            size_of(&entry.path(), &meta)
        };
        let exported = kind == BackingKind::Volume && !temporary && exported(&id)?;
        out.push(BackingObject {
            kind,
            id,
            name,
            size_bytes,
            modified: meta.modified().map_err(io_err("stat", &entry.path()))?,
            temporary,
            exported,
        });
    }
    Ok(out)
}

/// Removes the object's file (gone is a success) and makes the removal durable; a
/// volume's export goes first, and the file stops counting as provisioned.
pub(crate) fn remove(
    dir: &Path,
    target: &dyn Target,
    provisioned: &Provisioned,
    object: &BackingObject,
) -> Result<(), DriverError> {
    if object.kind == BackingKind::Volume && !object.temporary {
        target.remove_export(&VolumeId(object.id))?;
    }
    let path = path_of(dir, object);
    remove_if_present(&path)?;
    sync_dir(dir)?;
    provisioned.remove(&path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_names_count() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse(&format!("volume-{id}")),
            Some((BackingKind::Volume, id, false))
        );
        assert_eq!(
            parse(&format!(".snapshot-{id}.tmp")),
            Some((BackingKind::Snapshot, id, true))
        );
        for other in [
            format!("volume-{}", id.simple()),
            format!("volume-{}", id.to_string().to_uppercase()),
            format!("volume-{id}.json"),
            format!(".volume-{id}"),
            format!("backup-{id}"),
            "volume-../../etc".to_string(),
        ] {
            assert_eq!(parse(&other), None, "{other}");
        }
    }
}
