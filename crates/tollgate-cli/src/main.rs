//! The `tollgate` binary.

fn main() -> std::process::ExitCode {
    tollgate_cli::main_with_args(std::env::args_os())
}
