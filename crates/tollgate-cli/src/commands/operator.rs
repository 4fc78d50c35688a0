//! `tollgate operator manifests`: the operator's install manifests.

use crate::cli::{OperatorCommand, OperatorManifestsArgs};
use tollgate_core::Verdict;

pub fn run(command: OperatorCommand) -> anyhow::Result<Verdict> {
    match command {
        OperatorCommand::Manifests(args) => manifests(&args),
    }
}

/// Writes every manifest (each atomically) and lists what was written.
fn manifests(args: &OperatorManifestsArgs) -> anyhow::Result<Verdict> {
    use tollgate_operator_api::manifests;
    let options = manifests::Options::namespaced(&args.watch_namespace)?;
    let written = manifests::write_with(&args.output_dir, &options)?;
    let mut text = String::new();
    for path in written {
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    crate::output::emit(None, &text)?;
    Ok(Verdict::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_the_operator_renders() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("deploy");
        let verdict = run(OperatorCommand::Manifests(OperatorManifestsArgs {
            output_dir: out.clone(),
            watch_namespace: vec![],
        }))
        .unwrap();
        assert_eq!(verdict, Verdict::Pass);
        for manifest in tollgate_operator_api::manifests::render().unwrap() {
            let written = std::fs::read_to_string(out.join(manifest.file_name)).unwrap();
            assert_eq!(written, manifest.contents, "{}", manifest.file_name);
        }
    }

    #[test]
    fn an_output_dir_that_is_a_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let error = run(OperatorCommand::Manifests(OperatorManifestsArgs {
            output_dir: file.clone(),
            watch_namespace: vec![],
        }))
        .unwrap_err();
        assert!(format!("{error:#}").contains("not-a-dir"), "{error:#}");
    }

    #[test]
    fn a_namespaced_install_has_roles_and_watches_its_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("deploy");
        let args = |ns: &[&str]| OperatorManifestsArgs {
            output_dir: out.clone(),
            watch_namespace: ns.iter().map(|s| s.to_string()).collect(),
        };
        run(OperatorCommand::Manifests(args(&["shop", "ops"]))).unwrap();
        let rbac = std::fs::read_to_string(out.join("rbac.yaml")).unwrap();
        assert!(!rbac.contains("kind: ClusterRole"), "{rbac}");
        assert!(rbac.contains("namespace: ops") && rbac.contains("namespace: shop"), "{rbac}");
        let deployment = std::fs::read_to_string(out.join("deployment.yaml")).unwrap();
        assert!(deployment.contains("--watch-namespace=ops"), "{deployment}");
        assert!(deployment.contains("--watch-namespace=shop"), "{deployment}");
        let error = run(OperatorCommand::Manifests(args(&["Not_A_Namespace"]))).unwrap_err();
        assert!(format!("{error:#}").contains("Not_A_Namespace"), "{error:#}");
    }
}
