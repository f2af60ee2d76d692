//! File-system steps the directory-based drivers and the export targets share: error
//! wrapping, crash-safe publication of new files, sparse copies and capacity.
//!
//! Crash safety rests on one pattern: build a file under a temp name, fsync it, rename
//! it to its final name, fsync the directory. A final name therefore only ever names a
//! complete file.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{Whence, lseek};

use super::{Capacity, DriverError};

/// One GiB in bytes.
pub(crate) const GIB: u64 = 1 << 30;
/// Read size of the sparse copy; also the granularity at which zeros are skipped.
pub(crate) const COPY_CHUNK: usize = 1 << 20;

/// Wraps an OS error with what was being done to which path.
pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DriverError {
    let path = path.display().to_string();
    move |source| DriverError::Io { op, path, source }
}

/// A "not found" error for `path`, as every driver reports a missing object.
pub(crate) fn not_found(op: &'static str, path: &Path) -> DriverError {
    io_err(op, path)(io::ErrorKind::NotFound.into())
}

/// `size_gb` in bytes, or an error naming `path` if it overflows.
pub(crate) fn gib_to_bytes(size_gb: u64, path: &Path) -> Result<u64, DriverError> {
    size_gb
        .checked_mul(GIB)
        .ok_or_else(|| io_err("size", path)(io::ErrorKind::FileTooLarge.into()))
}

/// Makes a rename or unlink in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), DriverError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

/// Fsyncs the file at `path`; used after an external tool wrote it, since tools such as
/// `qemu-img convert` do not flush their output by default.
pub(crate) fn sync_file(path: &Path) -> Result<(), DriverError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io_err("fsync", path))
}

/// Unlinks `path`; a path that is already gone is a success.
pub(crate) fn remove_if_present(path: &Path) -> Result<(), DriverError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", path)(e)),
        _ => Ok(()),
    }
}

/// Whether `path` exists as a regular file. Anything else under our name (a directory,
/// a symlink) is an error rather than something to overwrite or follow.
pub(crate) fn exists(path: &Path) -> Result<bool, DriverError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => Ok(true),
        Ok(_) => Err(io_err("expected a regular file at", path)(
            io::ErrorKind::InvalidData.into(),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("stat", path)(e)),
    }
}

/// Where a file is built before it is renamed to `path`: `.<name>.tmp` beside it. The
/// leading dot keeps it out of scans, which count only final names.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Creates a fresh, empty temp file for `path`, mode 0600 (it will hold tenant data or
/// secrets). A temp file left by a crash is removed, not reused: its bytes must not leak
/// into the new file and its mode may be wrong. `create_new` (O_EXCL) then guarantees an
/// empty file of ours and never follows a symlink.
pub(crate) fn create_temp(path: &Path) -> Result<(PathBuf, File), DriverError> {
    let tmp = temp_path(path);
    remove_if_present(&tmp)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    Ok((tmp, file))
}

/// Renames a complete, fsynced temp file to its final name and makes the rename durable.
/// Without the directory fsync the rename may be lost in a crash, after the caller
/// recorded success.
pub(crate) fn publish_temp(tmp: &Path, path: &Path) -> Result<(), DriverError> {
    let what = format!("{} -> {}", tmp.display(), path.display());
    fs::rename(tmp, path).map_err(io_err("rename", Path::new(&what)))?;
    sync_dir(path.parent().unwrap_or(Path::new("/")))
}

/// Writes `bytes` to `path` through a 0600 temp file, fsync and rename.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DriverError> {
    let (tmp, file) = create_temp(path)?;
    file.write_all_at(bytes, 0).map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("fsync", &tmp))?;
    publish_temp(&tmp, path)
}

/// `lseek` for `SEEK_DATA`/`SEEK_HOLE`; `None` when there is no data at or after `offset`.
fn seek(file: &File, offset: u64, whence: Whence) -> io::Result<Option<u64>> {
    let offset = i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    match lseek(file, offset, whence) {
        Ok(pos) => u64::try_from(pos)
            .map(Some)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData)),
        Err(Errno::ENXIO) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Copies `src` into `dst`, which must be empty, and sizes `dst` to at least `min_len`.
/// Only the extents `SEEK_DATA`/`SEEK_HOLE` report as data are read, and chunks that are
/// all zeros are not written, so holes stay holes and the copy is as sparse as the source.
pub(crate) fn sparse_copy(src: &File, dst: &File, min_len: u64) -> io::Result<()> {
    let len = src.metadata()?.len();
    // `dst` is empty, so after this every byte not written below reads as zero.
    dst.set_len(len.max(min_len))?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut offset = 0;
    while offset < len {
        let Some(start) = seek(src, offset, Whence::SeekData)? else {
            break;
        };
        let end = seek(src, start, Whence::SeekHole)?.unwrap_or(len).min(len);
        let mut pos = start;
        while pos < end {
            let n = usize::try_from(end - pos).map_or(COPY_CHUNK, |left| left.min(COPY_CHUNK));
            let chunk = &mut buf[..n];
            src.read_exact_at(chunk, pos)?;
            if chunk.iter().any(|&b| b != 0) {
                dst.write_all_at(chunk, pos)?;
            }
            pos += n as u64;
        }
        offset = end.max(offset + 1);
    }
    Ok(())
}

/// Copies `src` into the empty `dst` and sizes `dst` to at least `min_len`: a reflink
/// (`FICLONE`: the file system shares the blocks, copy-on-write, so the copy is instant
/// and takes no space) where the file system offers it (btrfs, XFS, ...), else
/// [`sparse_copy`]. Returns whether the reflink was used.
pub(crate) fn clone_or_copy(src: &File, dst: &File, min_len: u64) -> io::Result<bool> {
    clone_or_copy_with(src, dst, min_len, reflink_copy::reflink_file)
}

/// [`clone_or_copy`] with the reflink step given, so tests can make it fail. A failed
/// `FICLONE` changes nothing (the clone is atomic), but `dst` is emptied before the
/// fallback anyway, since [`sparse_copy`] relies on an empty file.
fn clone_or_copy_with(
    src: &File,
    dst: &File,
    min_len: u64,
    reflink: impl FnOnce(&File, &File) -> io::Result<()>,
) -> io::Result<bool> {
    match reflink(src, dst) {
        Ok(()) => {
            let len = src.metadata()?.len().max(min_len);
            if dst.metadata()?.len() < len {
                dst.set_len(len)?;
            }
            Ok(true)
        }
        // Unsupported (EOPNOTSUPP, ENOTTY, EXDEV, EINVAL...): copy instead.
        Err(_) => {
            dst.set_len(0)?;
            sparse_copy(src, dst, min_len)?;
            Ok(false)
        }
    }
}

/// Total and free (available to us, not to root) space of the file system holding `dir`.
pub(crate) fn dir_capacity(dir: &Path) -> Result<(Capacity, Capacity), DriverError> {
    let vfs = nix::sys::statvfs::statvfs(dir).map_err(|e| io_err("statvfs", dir)(e.into()))?;
    let frsize = u128::from(vfs.fragment_size());
    let gb = |blocks: u64| Capacity::Gb(bytes_to_gb(u128::from(blocks) * frsize));
    Ok((gb(vfs.blocks()), gb(vfs.blocks_available())))
}

/// Bytes as (fractional) GiB, as the stats report them.
pub(crate) fn bytes_to_gb(bytes: u128) -> f64 {
    bytes as f64 / GIB as f64
}

/// Canonicalizes `dir` after creating it, and insists on UTF-8 so the paths handed out in
/// `provider_location` and `connection_info` are exact.
pub(crate) fn prepare_dir(dir: &Path) -> Result<PathBuf, DriverError> {
    fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    let dir = fs::canonicalize(dir).map_err(io_err("resolve", dir))?;
    if dir.to_str().is_none() {
        return Err(io_err("use non-UTF-8 directory", &dir)(
            io::ErrorKind::InvalidInput.into(),
        ));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A 64 MiB file with data only in its second and last MiB.
    fn sparse_source(dir: &Path) -> io::Result<File> {
        let path = dir.join("src");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        f.set_len(64 << 20)?;
        f.write_all_at(&[0xab; 1 << 20], 1 << 20)?;
        f.write_all_at(&[0xcd; 1 << 20], 63 << 20)?;
        Ok(f)
    }

    fn read_at(f: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    /// A fresh, empty file to copy into.
    fn empty_target(dir: &Path) -> io::Result<File> {
        File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.join("dst"))
    }

    fn check_copy(dst: &File, min_len: u64) -> TestResult {
        assert_eq!(dst.metadata()?.len(), min_len.max(64 << 20));
        assert!(read_at(dst, 1 << 20, 1 << 20)?.iter().all(|&b| b == 0xab));
        assert!(read_at(dst, 63 << 20, 1 << 20)?.iter().all(|&b| b == 0xcd));
        assert!(read_at(dst, 0, 1 << 20)?.iter().all(|&b| b == 0));
        assert!(read_at(dst, 10 << 20, 1 << 20)?.iter().all(|&b| b == 0));
        Ok(())
    }

    #[test]
    fn without_reflink_the_copy_is_sparse_and_whole() -> TestResult {
        let dir = tempfile::tempdir()?;
        let src = sparse_source(dir.path())?;
        let dst = empty_target(dir.path())?;
        let refused = |_: &File, to: &File| {
            // Whatever a failed attempt might leave is dropped before the fallback.
            to.write_all_at(b"junk", 0)?;
            Err(io::Error::from_raw_os_error(nix::libc::EOPNOTSUPP))
        };
        assert!(!clone_or_copy_with(&src, &dst, 100 << 20, refused)?);
        check_copy(&dst, 100 << 20)?;
        // Holes stay holes: about the 2 MiB of data is allocated, not 100 MiB.
        let allocated = dst.metadata()?.blocks() * 512;
        assert!(allocated <= 4 << 20, "{allocated} bytes allocated");
        Ok(())
    }

    #[test]
    fn the_file_systems_own_answer_gives_the_same_copy() -> TestResult {
        // A reflink where the temp dir's file system has them, the fallback elsewhere:
        // the content must be the same either way.
        let dir = tempfile::tempdir()?;
        let src = sparse_source(dir.path())?;
        let dst = empty_target(dir.path())?;
        let reflinked = clone_or_copy(&src, &dst, 0)?;
        eprintln!("reflink used: {reflinked}");
        check_copy(&dst, 0)?;
        Ok(())
    }
}
