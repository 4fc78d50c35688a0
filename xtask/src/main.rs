//! `cargo xtask`: every `tollgate` command, plus this repository's dev tasks.
//!
//! Dev tasks: `test` (installs what the tests need, then runs every test), `ci` (format check,
//! clippy, then `test`), `bench`. Anything else is forwarded to `tollgate`, so
//! `cargo xtask release` is `tollgate release` on this repository.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let task = args.get(1).and_then(|a| a.to_str()).unwrap_or_default().to_owned();
    let root = repo_root();
    let result = match task.as_str() {
        "test" => test(&root, &args[2..]),
        "ci" => ci(&root),
        "bench" => run(Command::new(cargo())
            .current_dir(&root)
            .args(["bench", "--workspace"])
            .args(&args[2..])),
        "release" | "sbom" => {
            // Unpack every locked crate (all platforms) so licences and authors are complete.
            if let Err(e) = fetch(&root) {
                eprintln!("xtask: {e}; continuing with the crates already unpacked");
            }
            Ok(None)
        }
        _ => Ok(None),
    };
    match result {
        Ok(None) => {
            // Forward to tollgate, run from the repository root.
            if let Err(e) = std::env::set_current_dir(&root) {
                eprintln!("xtask: cannot enter {}: {e}", root.display());
                return ExitCode::from(2);
            }
            tollgate_cli::main_with_args(args)
        }
        Ok(Some(())) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::from(1)
        }
    }
}

type TaskResult = Result<Option<()>, String>;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn run(cmd: &mut Command) -> TaskResult {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() { Ok(Some(())) } else { Err(format!("{cmd:?} failed: {status}")) }
}

fn fetch(root: &Path) -> Result<(), String> {
    run(Command::new(cargo()).current_dir(root).args(["fetch", "--locked", "--quiet"])).map(|_| ())
}

/// Everything the tests need, then every test.
fn test(root: &Path, extra: &[OsString]) -> TaskResult {
    let python = python_venv(root)?;
    fetch(root)?;
    run(Command::new(cargo())
        .current_dir(root)
        .args(["test", "--workspace", "--locked"])
        .args(extra)
        .env("TOLLGATE_PYTHON", &python))
}

fn ci(root: &Path) -> TaskResult {
    run(Command::new(cargo()).current_dir(root).args(["fmt", "--all", "--", "--check"]))?;
    run(Command::new(cargo()).current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    test(root, &[])
}

/// `target/venv` with the independent validators from `tests/validators/requirements.txt`;
/// reinstalled only when that file changes.
fn python_venv(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join("target/venv");
    let python = venv.join("bin/python");
    let requirements = root.join("tests/validators/requirements.txt");
    let wanted =
        std::fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let stamp = venv.join("tollgate-requirements.txt");
    if python.exists() && std::fs::read(&stamp).is_ok_and(|have| have == wanted) {
        return Ok(python);
    }
    let system_python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    run(Command::new(system_python).args(["-m", "venv", "--clear"]).arg(&venv))?;
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(python)
}
