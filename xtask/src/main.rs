//! `cargo xtask`: forwards to `tollgate`.

fn main() -> std::process::ExitCode {
    tollgate_cli::main_with_args(std::env::args_os())
}
