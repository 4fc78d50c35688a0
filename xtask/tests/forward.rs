//! `cargo xtask <product command>` forwards to the tollgate binary in the caller's working
//! directory. The binary is replaced (`XTASK_TOLLGATE`) by a script that records its working
//! directory and arguments, so no nested cargo runs while `cargo test` holds the build lock;
//! the e2e suite runs the real binary from a subdirectory with relative paths.

use std::process::Command;

#[cfg(unix)]
fn recorder(dir: &std::path::Path, exit: u8) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("fake-tollgate");
    std::fs::write(
        &script,
        format!("#!/bin/sh\npwd > \"$RECORD\"\nfor a in \"$@\"; do echo \"$a\" >> \"$RECORD\"; done\nexit {exit}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[cfg(unix)]
#[test]
fn product_commands_run_in_the_callers_directory_with_their_arguments_and_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let caller = tmp.path().join("repo/services/api");
    std::fs::create_dir_all(&caller).unwrap();
    let record = tmp.path().join("record.txt");
    for exit in [0_u8, 1, 2] {
        let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["contracts", "diff", "--kind", "openapi", "v1.yaml", "v2.yaml"])
            .current_dir(&caller)
            .env("XTASK_TOLLGATE", recorder(tmp.path(), exit))
            .env("RECORD", &record)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(i32::from(exit)));
        let lines: Vec<String> =
            std::fs::read_to_string(&record).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(
            std::path::Path::new(&lines[0]).canonicalize().unwrap(),
            caller.canonicalize().unwrap()
        );
        assert_eq!(lines[1..], ["contracts", "diff", "--kind", "openapi", "v1.yaml", "v2.yaml"]);
    }
}

#[test]
fn a_binary_that_cannot_start_is_a_usage_error() {
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["rules"])
        .env("XTASK_TOLLGATE", "/nonexistent/tollgate")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}
