//! Running the storage tools (`qemu-img`, `tgtadm`, `qemu-nbd`).
//!
//! Always an argument vector, never `sh -c`: ids, sizes and paths reach the tool as
//! single arguments, so nothing a user chose is ever parsed by a shell. Errors carry the
//! program, what was being done and the tool's error output, never the arguments: some
//! (CHAP secrets, NBD export names) must not reach logs or API messages. Tools may echo
//! an argument in their error output, so callers passing secrets use [`run_secret`],
//! which blanks them out of it.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

use super::DriverError;

/// Longest stderr excerpt kept in an error.
const MAX_DETAIL: usize = 600;

/// Runs `program args...` to completion, with stdin closed and both outputs captured.
/// A spawn failure or a non-zero exit becomes [`DriverError::Command`].
pub(crate) fn run<I, S>(program: &'static str, action: &str, args: I) -> Result<Output, DriverError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_secret(program, action, args, &[])
}

/// [`run`], with every occurrence of `secrets` replaced by `<redacted>` in the error.
pub(crate) fn run_secret<I, S>(
    program: &'static str,
    action: &str,
    args: I,
    secrets: &[&str],
) -> Result<Output, DriverError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| DriverError::Command {
            program,
            action: action.to_string(),
            detail: format!("cannot run: {e}"),
        })?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(failure(program, action, &output, secrets))
    }
}

/// The error for a finished command that failed: its stderr lines (stdout if stderr is
/// empty), joined and capped, so a chatty tool cannot flood a log line.
fn failure(program: &'static str, action: &str, output: &Output, secrets: &[&str]) -> DriverError {
    let text = if output.stderr.is_empty() {
        &output.stdout
    } else {
        &output.stderr
    };
    let text = String::from_utf8_lossy(text);
    let mut detail: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        detail = detail.replace(secret, "<redacted>");
    }
    if detail.len() > MAX_DETAIL {
        let cut = (0..=MAX_DETAIL)
            .rfind(|&i| detail.is_char_boundary(i))
            .unwrap_or(0);
        detail.truncate(cut);
        detail.push_str("...");
    }
    DriverError::Command {
        program,
        action: action.to_string(),
        detail: format!("{detail} ({})", output.status),
    }
}

/// Whether a command error's detail contains `needle` (tools report conditions such as
/// "already exists" or a held lock only as text).
pub(crate) fn detail_contains(err: &DriverError, needle: &str) -> bool {
    matches!(err, DriverError::Command { detail, .. } if detail.contains(needle))
}

/// An argument vector from mixed strings and paths: `argv(&[&"-f", &"qcow2", &path])`.
pub(crate) fn argv<'a>(items: &[&'a (dyn AsRef<OsStr> + 'a)]) -> Vec<&'a OsStr> {
    items.iter().map(|&i| i.as_ref()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_tool_but_never_the_secrets() -> Result<(), String> {
        // `ls` echoes the bad option, as a tool might echo a password.
        let text = match run_secret("ls", "list", ["--no-such-option-Secret42"], &["Secret42"]) {
            Err(e) => e.to_string(),
            Ok(_) => return Err("ls should fail".into()),
        };
        assert!(text.starts_with("ls failed to list: "), "{text}");
        assert!(
            text.contains("<redacted>") && !text.contains("Secret42"),
            "{text}"
        );
        let missing = run("no-such-program-xyz", "do it", ["a"]);
        assert!(matches!(missing, Err(DriverError::Command { .. })));
        Ok(())
    }
}
