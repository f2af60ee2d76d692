//! Starting and stopping one `qemu-nbd` server.
//!
//! `qemu-nbd --fork` returns once the server listens (or has failed to), so a zero exit
//! means the export is ready; the server then runs detached and writes its pid file. A
//! pid alone could name an unrelated process after a reboot or a pid wrap, so a server
//! counts as ours only if `/proc/<pid>/cmdline` is qemu-nbd serving our export name,
//! which is random. A zombie has an empty cmdline, so it counts as stopped.

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::drivers::command::{argv, run_secret};
use crate::drivers::fsutil::{io_err, remove_if_present};
use crate::drivers::{DriverError, ImageFormat};

/// How long a server gets to exit after SIGTERM before SIGKILL, and again after it.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often SIGTERM is repeated while the server is still up.
const RESIGNAL: Duration = Duration::from_millis(200);

/// One server's command line, minus the process plumbing.
pub(super) struct Server<'a> {
    pub(super) path: &'a Path,
    pub(super) format: ImageFormat,
    pub(super) address: &'a str,
    pub(super) port: u16,
    pub(super) export_name: &'a str,
    pub(super) pid_file: &'a Path,
    /// A directory holding `keys.psk`: the server then requires TLS with that PSK.
    pub(super) tls_dir: Option<&'a Path>,
}

/// The id of the TLS credentials object on qemu-nbd's command line.
const TLS_ID: &str = "clinker-tls";

/// Starts the server; returns once it listens. An address already in use is reported
/// as [`DriverError::Command`] with "in use" in its detail.
pub(super) fn start(s: &Server<'_>) -> Result<(), DriverError> {
    let (port, format) = (s.port.to_string(), s.format.as_str());
    // The format is always explicit: a probed format would let a guest that wrote an
    // image header into a raw volume make qemu-nbd open files of its choosing.
    let mut args = argv(&[
        &"--fork",
        &"--persistent",
        &"--pid-file",
        &s.pid_file,
        &"--format",
        &format,
        &"--export-name",
        &s.export_name,
        &"--bind",
        &s.address,
        &"--port",
        &port,
        &"--cache",
        &"writeback",
        &"--discard",
        &"unmap",
        &s.path,
    ]);
    // In qemu's option syntax a comma is written twice.
    let tls = s.tls_dir.map(|dir| {
        let dir = dir.display().to_string().replace(',', ",,");
        format!("tls-creds-psk,id={TLS_ID},endpoint=server,dir={dir}")
    });
    if let Some(object) = &tls {
        let at = args.len() - 1;
        let extra = argv(&[&"--object", object, &"--tls-creds", &TLS_ID]);
        args.splice(at..at, extra);
    }
    run_secret("qemu-nbd", "start an NBD export", args, &[s.export_name]).map(drop)
}

/// The pid of the running server for `export_name`, if there is one.
pub(super) fn running(pid_file: &Path, export_name: &str) -> Option<Pid> {
    let pid: i32 = fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    is_ours(pid, export_name).then(|| Pid::from_raw(pid))
}

fn is_ours(pid: i32, export_name: &str) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let mut args = cmdline.split(|&b| b == 0);
    let program_ok = args.next().is_some_and(|a| a.ends_with(b"qemu-nbd"));
    program_ok && args.any(|a| a == export_name.as_bytes())
}

/// Stops the server for `export_name` if it runs, then removes its pid file.
///
/// SIGTERM makes qemu-nbd flush its caches (qcow2 metadata among them) and exit, but a
/// SIGTERM that lands while the server is still starting up can be lost (seen with
/// qemu 10.0: the handler runs and the main loop never wakes), so it is repeated until
/// the server is gone. SIGKILL is the last resort after [`STOP_GRACE`].
pub(super) fn stop(pid_file: &Path, export_name: &str) -> Result<(), DriverError> {
    if let Some(pid) = running(pid_file, export_name) {
        let start = Instant::now();
        let mut signal = Signal::SIGTERM;
        let mut last_signal = None;
        while !is_gone(pid) {
            if start.elapsed() > 2 * STOP_GRACE {
                return Err(io_err("stop qemu-nbd for", pid_file)(
                    std::io::ErrorKind::TimedOut.into(),
                ));
            }
            if start.elapsed() > STOP_GRACE {
                signal = Signal::SIGKILL;
            }
            if last_signal.is_none_or(|t: Instant| t.elapsed() >= RESIGNAL) {
                // ESRCH: it exited since the check, which is the goal.
                let _ = kill(pid, signal);
                last_signal = Some(Instant::now());
            }
            sleep(Duration::from_millis(10));
        }
    }
    remove_if_present(pid_file)
}

/// Whether `pid` has fully exited, all its threads included. A zombie leader is not
/// enough: qemu-nbd is multi-threaded, the main thread can exit first, and the file
/// table (with the listening socket) is freed only when the last thread exits. The
/// thread list is also how a pid that was never ours is recognized as gone.
fn is_gone(pid: Pid) -> bool {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.filter_map(Result::ok).all(|task| {
        let stat = fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // The state follows the parenthesized command name; unreadable means gone.
        let state = stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
        matches!(state, None | Some('Z' | 'X'))
    })
}
