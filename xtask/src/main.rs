//! `cargo xtask`: every `tollgate` command, plus this repository's dev tasks.
//!
//! Dev tasks: `test` (installs what the tests need, then runs every test), `ci` (format check,
//! clippy, `test`, then `fuzz`), `fuzz` (every cargo-fuzz target for a bounded time), `bench`. Anything else is forwarded to the `tollgate` binary, built
//! by cargo from `tollgate-cli` (`cargo run -p tollgate-cli`), in the caller's working
//! directory: `cargo xtask release` at the root is `tollgate release` on this repository, and
//! `cargo xtask contracts diff api/v1.yaml api/v2.yaml` reads the caller's files.
//!
//! xtask links nothing of the product and has no dependencies, so it builds in a second.
//! `XTASK_TOLLGATE=PATH` forwards to a prebuilt binary instead of `cargo run`.

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
        "fuzz" => fuzz(&root, &args[2..]),
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
        Ok(None) => forward(&mut tollgate_command(&root, &args[1..])),
        Ok(Some(())) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: {e}");
            ExitCode::from(1)
        }
    }
}

type TaskResult = Result<Option<()>, String>;

/// The `tollgate` invocation for `args`: `XTASK_TOLLGATE` when set, else `cargo run` of the
/// `tollgate-cli` binary in this workspace. The working directory is the caller's.
fn tollgate_command(root: &Path, args: &[OsString]) -> Command {
    let mut cmd = match std::env::var_os("XTASK_TOLLGATE") {
        Some(binary) => Command::new(binary),
        None => {
            let mut cmd = Command::new(cargo());
            cmd.args(["run", "--quiet", "--package", "tollgate-cli", "--bin", "tollgate"])
                .arg("--manifest-path")
                .arg(root.join("Cargo.toml"))
                .arg("--");
            cmd
        }
    };
    cmd.args(args);
    cmd
}

/// Runs `cmd` and exits as it did (2 when it could not start; 1 when killed by a signal).
fn forward(cmd: &mut Command) -> ExitCode {
    match cmd.status() {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
            None => ExitCode::from(1),
        },
        Err(e) => {
            eprintln!("xtask: cannot start {cmd:?}: {e}");
            ExitCode::from(2)
        }
    }
}

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

/// Everything the tests need, then every test: the Python validators, Chromium and axe-core
/// (for the report's browser test), graphql-inspector (the GraphQL verdicts' side-by-side), a throwaway PostgreSQL cluster and an S3-compatible server (moto),
/// both stopped afterwards, also when tests fail.
fn test(root: &Path, extra: &[OsString]) -> TaskResult {
    let python = python_venv(root)?;
    let chromium = ensure_chromium()?;
    let axe_core = ensure_axe_core(root)?;
    let graphql_inspector = ensure_graphql_inspector(root)?;
    fetch(root)?;
    let started = std::time::Instant::now();
    let pg = Postgres::start(root)?;
    let s3 = MotoServer::start(root)?;
    eprintln!("xtask: PostgreSQL and moto ready in {:.1}s", started.elapsed().as_secs_f64());
    let path = std::env::join_paths(
        std::iter::once(pg.bin.clone())
            .chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)),
    )
    .map_err(|e| format!("PATH: {e}"))?;
    let result = run(Command::new(cargo())
        .current_dir(root)
        .args(["test", "--workspace", "--locked"])
        .args(extra)
        .env("TOLLGATE_PYTHON", &python)
        .env("TOLLGATE_CHROMIUM", &chromium)
        .env("TOLLGATE_AXE_CORE", &axe_core)
        .env("TOLLGATE_GRAPHQL_INSPECTOR", &graphql_inspector)
        .env("TOLLGATE_TEST_DATABASE_URL", pg.url())
        .env("TOLLGATE_TEST_S3_ENDPOINT", s3.endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("PATH", path));
    drop(s3);
    drop(pg);
    result
}

/// Debian's Chromium, for the browser test of the evidence report: installed from the
/// distribution's packages when `/usr/bin/chromium` is missing (the package index is refreshed
/// only when it does not know the package).
fn ensure_chromium() -> Result<PathBuf, String> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    if chromium.exists() {
        return Ok(chromium);
    }
    eprintln!("xtask: /usr/bin/chromium missing; installing the chromium package");
    let install = || {
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive"))
    };
    if install().is_err() {
        run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))?;
        install()?;
    }
    if chromium.exists() {
        Ok(chromium)
    } else {
        Err("no /usr/bin/chromium after installing the chromium package".into())
    }
}

/// The axe-core release the report's browser test runs (npm).
const AXE_CORE: &str = "axe-core@4.14.1";

/// axe-core's `axe.min.js`, installed with npm into `target/axe` when missing or another
/// version: the accessibility engine the report's browser test runs in Chromium.
fn ensure_axe_core(root: &Path) -> Result<PathBuf, String> {
    let dir = root.join("target/axe");
    let script = dir.join("node_modules/axe-core/axe.min.js");
    let stamp = dir.join("tollgate-axe-core.txt");
    if script.exists() && std::fs::read_to_string(&stamp).is_ok_and(|have| have == AXE_CORE) {
        return Ok(script);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--no-save", "--prefix"])
        .arg(&dir)
        .arg(AXE_CORE))?;
    if !script.exists() {
        return Err(format!("no {} after installing {AXE_CORE}", script.display()));
    }
    std::fs::write(&stamp, AXE_CORE).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(script)
}

const GRAPHQL_INSPECTOR: [&str; 2] = ["@graphql-inspector/core@8.0.0", "graphql@16.15.0"];

/// graphql-inspector's library in `target/graphql-inspector/node_modules` (for the GraphQL
/// verdicts' side-by-side test), installed from npm once.
fn ensure_graphql_inspector(root: &Path) -> Result<PathBuf, String> {
    let dir = root.join("target/graphql-inspector");
    let modules = dir.join("node_modules");
    let stamp = dir.join("tollgate-graphql-inspector.txt");
    let want = GRAPHQL_INSPECTOR.join(" ");
    if modules.join("@graphql-inspector/core").exists()
        && std::fs::read_to_string(&stamp).is_ok_and(|have| have == want)
    {
        return Ok(modules);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--no-save", "--prefix"])
        .arg(&dir)
        .args(GRAPHQL_INSPECTOR))?;
    std::fs::write(&stamp, want).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(modules)
}

/// A free TCP port on 127.0.0.1 (bound, read and released).
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// A throwaway PostgreSQL cluster in `target/pg`, stopped on drop.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Run the server tools as this user (`postgres` when we are root: initdb refuses root).
    run_as: Option<&'static str>,
}

impl Postgres {
    fn start(root: &Path) -> Result<Self, String> {
        let bin = match postgres_bin() {
            Some(bin) => bin,
            None => {
                eprintln!(
                    "xtask: PostgreSQL server binaries missing; installing the postgresql package"
                );
                run(Command::new("apt-get").arg("update"))?;
                run(Command::new("apt-get")
                    .args(["install", "-y", "--no-install-recommends", "postgresql"])
                    .env("DEBIAN_FRONTEND", "noninteractive"))?;
                postgres_bin().ok_or("no /usr/lib/postgresql/*/bin/initdb after installing")?
            }
        };
        let base = root.join("target/pg");
        let data = base.join("data");
        let socket = base.join("run");
        let run_as = is_root().then_some("postgres");
        let mut pg = Postgres { bin, data, port: 0, run_as };
        if pg.data.join("postmaster.pid").exists() {
            // A cluster left running by an interrupted run.
            let _ = pg
                .tool("pg_ctl")
                .arg("-D")
                .arg(&pg.data)
                .args(["stop", "-m", "immediate"])
                .status();
        }
        if base.exists() {
            std::fs::remove_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        }
        for dir in [&pg.data, &socket] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        if let Some(user) = run_as {
            let exists =
                Command::new("id").arg("-u").arg(user).output().is_ok_and(|o| o.status.success());
            if !exists {
                run(Command::new("useradd").args(["--system", "--no-create-home", user]))?;
            }
            run(Command::new("chown").arg("-R").arg(format!("{user}:")).arg(&base))?;
        }
        pg.port = free_port()?;
        pg.tool("initdb")
            .arg("-D")
            .arg(&pg.data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("initdb: {e}"))
            .and_then(|s| if s.success() { Ok(()) } else { Err(format!("initdb failed: {s}")) })?;
        // Members of this group must send a password over TCP (first matching line wins):
        // tests of password handling make such roles (tollgate_db::testing::password_role).
        let hba = pg.data.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).map_err(|e| format!("{}: {e}", hba.display()))?;
        std::fs::write(
            &hba,
            format!("host all +tollgate_password_auth 127.0.0.1/32 scram-sha-256\n{rules}"),
        )
        .map_err(|e| format!("{}: {e}", hba.display()))?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            pg.port,
            socket.display()
        );
        run(pg
            .tool("pg_ctl")
            .arg("-D")
            .arg(&pg.data)
            .arg("-l")
            .arg(base.join("postgres.log"))
            .args(["-o", &options, "-w", "start"]))?;
        Ok(pg)
    }

    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        match self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = run(self.tool("pg_ctl").arg("-D").arg(&self.data).args(["stop", "-m", "fast"]));
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding `initdb`.
fn postgres_bin() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// moto's S3-compatible server from `target/venv`, killed on drop.
struct MotoServer {
    child: std::process::Child,
    port: u16,
}

impl MotoServer {
    fn start(root: &Path) -> Result<Self, String> {
        let program = root.join("target/venv/bin/moto_server");
        let port = free_port()?;
        let log_path = root.join("target/moto.log");
        let log =
            std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let mut server = MotoServer { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !server.answers() {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("moto_server exited ({status}); see {}", log_path.display()));
            }
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "moto_server did not answer in 30s; see {}",
                    log_path.display()
                ));
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(server)
    }

    /// An HTTP response to `GET /`.
    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
        let mut head = [0_u8; 5];
        stream.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_ok()
            && stream.read_exact(&mut head).is_ok()
            && &head == b"HTTP/"
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    test(root, &[])?;
    fuzz(root, &[])
}

/// The cargo-fuzz release `fuzz` installs into `target/tools` when `cargo fuzz` is missing.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// `cargo xtask fuzz [--time SECS] [--seed N] [TARGET...]`: builds the targets in `fuzz/` once (stable
/// toolchain, no sanitizer: the code is safe Rust, so panics, hangs and memory blow-ups are the
/// findings), then runs each for SECS seconds (default 60) from the committed corpus in
/// `fuzz/corpus/TARGET`. New inputs go to `target/fuzz/corpus/TARGET`, crashes to
/// `target/fuzz/artifacts/TARGET`; any crash, hang (10 s) or RSS over 2 GiB fails the task.
/// The seed is fixed (1) unless `--seed` says otherwise (0: a random one), so that a CI run
/// explores the same inputs each time and a crash there reproduces.
fn fuzz(root: &Path, extra: &[OsString]) -> TaskResult {
    let mut seconds = 60u64;
    let mut seed = 1u64;
    let mut wanted = Vec::new();
    let mut args = extra.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        if arg == "--time" {
            let value = args.next().unwrap_or_default();
            seconds = value.parse().map_err(|_| format!("--time {value:?}: not whole seconds"))?;
        } else if arg == "--seed" {
            let value = args.next().unwrap_or_default();
            seed = value.parse().map_err(|_| format!("--seed {value:?}: not a whole number"))?;
        } else {
            wanted.push(arg);
        }
    }
    let targets = fuzz_targets(root)?;
    if let Some(unknown) = wanted.iter().find(|w| !targets.contains(w)) {
        return Err(format!("no fuzz target {unknown:?}; targets: {}", targets.join(", ")));
    }
    let selected = if wanted.is_empty() { targets } else { wanted };
    let path = cargo_fuzz_path(root)?;
    let work = root.join("target/fuzz");
    let fuzz_cmd = |sub: &str| {
        let mut cmd = Command::new(cargo());
        cmd.current_dir(root)
            .env("PATH", &path)
            .args(["fuzz", sub, "--sanitizer", "none", "--fuzz-dir", "fuzz", "--target-dir"])
            .arg(&work);
        cmd
    };
    run(&mut fuzz_cmd("build"))?;
    let mut failed = Vec::new();
    for target in &selected {
        let corpus = work.join("corpus").join(target);
        let artifacts = work.join("artifacts").join(target);
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut cmd = fuzz_cmd("run");
        cmd.arg(target).arg(&corpus).arg(root.join("fuzz/corpus").join(target)).args([
            "--".into(),
            format!("-max_total_time={seconds}"),
            format!("-seed={seed}"),
            "-timeout=10".into(),
            "-rss_limit_mb=2048".into(),
            "-print_final_stats=1".into(),
            format!("-artifact_prefix={}/", artifacts.display()),
        ]);
        if run(&mut cmd).is_err() {
            failed.push(format!("{target} (inputs in {})", artifacts.display()));
        }
    }
    if failed.is_empty() {
        Ok(Some(()))
    } else {
        Err(format!(
            "fuzz targets failed: {}; reproduce with `cargo fuzz run --sanitizer none --fuzz-dir \
             fuzz TARGET FILE`",
            failed.join(", ")
        ))
    }
}

/// The fuzz targets: one `fuzz/fuzz_targets/NAME.rs` each, sorted.
fn fuzz_targets(root: &Path) -> Result<Vec<String>, String> {
    let dir = root.join("fuzz/fuzz_targets");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".rs").map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

/// `PATH` with a `cargo-fuzz`: the one already on `PATH`, else cargo-fuzz
/// [`CARGO_FUZZ_VERSION`] installed (once) into `target/tools` from crates.io.
fn cargo_fuzz_path(root: &Path) -> Result<OsString, String> {
    let tools = root.join("target/tools");
    let dirs = std::iter::once(tools.join("bin"))
        .chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths))
        .collect::<Vec<_>>();
    if !dirs.iter().any(|d| d.join("cargo-fuzz").is_file()) {
        run(Command::new(cargo())
            .args(["install", "--locked", "cargo-fuzz", "--version", CARGO_FUZZ_VERSION, "--root"])
            .arg(&tools))?;
    }
    std::env::join_paths(dirs).map_err(|e| format!("PATH: {e}"))
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
