//! The committed install manifests in `operator/deploy/` must be exactly what the code renders
//! now (CRDs from the Rust types, RBAC from the verbs the controllers use). When this fails,
//! regenerate them with the command in the message and commit the result.

use std::path::Path;

use tollgate_operator::manifests::{self, REFRESH_COMMAND};

#[test]
fn deploy_directory_is_up_to_date() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let stale = manifests::stale(&deploy).expect("operator/deploy/ is readable");
    assert!(
        stale.is_empty(),
        "operator/deploy/ is stale ({}); refresh it with `{REFRESH_COMMAND}`",
        stale.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    );
}

#[test]
fn deploy_directory_holds_only_generated_files() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let mut on_disk: Vec<String> = std::fs::read_dir(&deploy)
        .expect("operator/deploy/ exists")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let rendered: Vec<String> =
        manifests::render().unwrap().into_iter().map(|m| m.file_name.to_owned()).collect();
    assert_eq!(
        on_disk, rendered,
        "unexpected files in operator/deploy/; refresh with `{REFRESH_COMMAND}`"
    );
}
