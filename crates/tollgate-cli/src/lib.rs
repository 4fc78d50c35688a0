//! The `tollgate` command line (being written).

use std::ffi::OsString;
use std::process::ExitCode;

/// Parses `args` (including the program name), runs the command, returns its exit code.
pub fn main_with_args(_args: impl IntoIterator<Item = OsString>) -> ExitCode {
    ExitCode::from(2)
}
