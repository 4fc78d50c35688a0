//! `tollgate` exactly as shipped, built inside the end-to-end test package.

fn main() -> std::process::ExitCode {
    tollgate_cli::main_with_args(std::env::args_os())
}
