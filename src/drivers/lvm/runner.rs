//! How the LVM driver runs the lvm2 tools (and `dd`): through a [`Runner`], so its unit
//! tests can record and answer the commands without lvm2 or device-mapper.

use std::fmt;

use super::super::DriverError;
use super::super::command;

/// Runs one storage tool with an argument vector and returns its standard output.
/// Failures are [`DriverError::Command`] carrying the tool's error output.
pub trait Runner: Send + Sync + fmt::Debug {
    /// Runs `program args...`; `action` says what for, in error messages.
    fn run(
        &self,
        program: &'static str,
        action: &str,
        args: &[String],
    ) -> Result<String, DriverError>;
}

/// The real runner: [`command::run`], never a shell.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRunner;

impl Runner for SystemRunner {
    fn run(
        &self,
        program: &'static str,
        action: &str,
        args: &[String],
    ) -> Result<String, DriverError> {
        let out = command::run(program, action, args)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}
