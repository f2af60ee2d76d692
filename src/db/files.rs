//! File modes of what the service keeps on disk: the data directory and the SQLite
//! database. The database holds every project's volumes, attachments with their
//! connection details and the idempotency records, so it is readable by the service's
//! user only, as the target state files already are (0600).

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the database file and its `-wal` and `-shm` companions.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) with mode 0700, and narrows it to 0700 if it
/// already existed wider (the config check may have created it with the umask's mode
/// when it made a node's directory inside it).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    narrow(dir, DIR_MODE)
}

/// Makes sure the SQLite database at `path` and its `-wal`/`-shm` files are 0600 before
/// SQLite opens them: the database is created empty with that mode if missing (SQLite
/// gives the files it creates next to it the database's own mode), and existing files
/// from an older release are narrowed. `:memory:` and `file:` URIs are left alone.
pub fn private_sqlite_files(path: &str) -> io::Result<()> {
    if path.is_empty() || path == ":memory:" || path.starts_with("file:") {
        return Ok(());
    }
    let db = PathBuf::from(path);
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(&db)?;
    narrow(&db, FILE_MODE)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        match narrow(Path::new(&name), FILE_MODE) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// Removes from `path`'s mode every bit outside `mode` (never adds one).
fn narrow(path: &Path, mode: u32) -> io::Result<()> {
    let current = fs::metadata(path)?.permissions().mode() & 0o7777;
    if current & !mode != 0 {
        fs::set_permissions(path, Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs::{self, Permissions};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::{private_dir, private_sqlite_files};

    fn mode(p: &Path) -> Result<u32, std::io::Error> {
        Ok(fs::metadata(p)?.permissions().mode() & 0o777)
    }

    #[test]
    fn data_dir_is_created_or_narrowed_to_0700() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let fresh = tmp.path().join("a/b");
        private_dir(&fresh)?;
        assert_eq!(mode(&fresh)?, 0o700);
        let wide = tmp.path().join("wide");
        fs::create_dir(&wide)?;
        fs::set_permissions(&wide, Permissions::from_mode(0o755))?;
        private_dir(&wide)?;
        assert_eq!(mode(&wide)?, 0o700);
        Ok(())
    }

    #[test]
    fn database_files_are_0600_new_or_old() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let db = tmp.path().join("clinker.db");
        let url = db.to_str().ok_or("temp path is not UTF-8")?;
        // A new database, opened as the service opens it: the WAL and shared-memory
        // files SQLite creates take the database's mode.
        let pool = crate::db::connect(url, 1)?;
        crate::db::Db::new(pool.clone()).run_blocking(crate::db::migrate)?;
        for f in ["clinker.db", "clinker.db-wal", "clinker.db-shm"] {
            assert_eq!(mode(&tmp.path().join(f))?, 0o600, "{f}");
        }
        drop(pool);
        // Files an older release left world-readable are narrowed at the next start.
        for f in ["clinker.db", "clinker.db-wal", "clinker.db-shm"] {
            let p = tmp.path().join(f);
            if p.exists() {
                fs::set_permissions(&p, Permissions::from_mode(0o644))?;
            }
        }
        private_sqlite_files(url)?;
        for f in ["clinker.db", "clinker.db-wal", "clinker.db-shm"] {
            let p = tmp.path().join(f);
            if p.exists() {
                assert_eq!(mode(&p)?, 0o600, "{f}");
            }
        }
        assert_eq!(mode(&db)?, 0o600);
        Ok(())
    }
}
