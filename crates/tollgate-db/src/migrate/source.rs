//! Where migrations come from: a directory, a ConfigMap-shaped YAML document, or a git
//! repository at a pinned commit (read from git objects through git2, no checkout).

use super::{MigrateError, Migration, MigrationVersion};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The marker that runs a migration outside a transaction (for `CREATE INDEX CONCURRENTLY`).
pub const NO_TRANSACTION_MARKER: &str = "-- tollgate:no-transaction";

/// `V<version>__<name>.sql` / `U<version>__<name>.sql`: (is_up, version, name), or `None` when
/// the file is not a migration at all (not `.sql`); an error when it is `.sql` but misnamed.
/// Versions are Flyway's ([`MigrationVersion`]): `V2__x.sql`, `V1_5__x.sql`, `V1.5__x.sql`.
pub fn parse_file_name(file: &str) -> Result<Option<(bool, MigrationVersion, String)>, String> {
    let Some(stem) = file.strip_suffix(".sql") else { return Ok(None) };
    let bad = || {
        format!(
            "{file}: migration files are named V<version>__<name>.sql or U<version>__<name>.sql \
             (a version is digits separated by '.' or '_', e.g. V3__add_users.sql, V1_5__x.sql)"
        )
    };
    let up = match stem.chars().next() {
        Some('V') => true,
        Some('U') => false,
        _ => return Err(bad()),
    };
    let (version, name) = stem[1..].split_once("__").ok_or_else(bad)?;
    if version.is_empty()
        || !version.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'_')
        || name.is_empty()
    {
        return Err(bad());
    }
    let version = MigrationVersion::parse(version).map_err(|e| format!("{file}: {e}"))?;
    Ok(Some((up, version, name.to_owned())))
}

/// SHA-256 (hex) of a migration's bytes.
pub fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Builds the migration list from `(file name, origin for messages, contents)`.
pub fn from_files(
    files: impl IntoIterator<Item = (String, String, String)>,
) -> Result<Vec<Migration>, MigrateError> {
    let mut ups: BTreeMap<MigrationVersion, Migration> = BTreeMap::new();
    let mut downs: BTreeMap<MigrationVersion, (String, String)> = BTreeMap::new();
    for (file, origin, sql) in files {
        let Some((up, version, name)) =
            parse_file_name(&file).map_err(|m| MigrateError::Source(format!("{origin}: {m}")))?
        else {
            continue;
        };
        if up {
            let no_transaction = sql.lines().any(|l| l.trim() == NO_TRANSACTION_MARKER);
            let migration = Migration {
                version: version.clone(),
                name,
                checksum: checksum(&sql),
                sql,
                no_transaction,
                origin: origin.clone(),
                down: None,
            };
            if let Some(other) = ups.insert(version.clone(), migration) {
                return Err(MigrateError::Source(format!(
                    "{origin}: version {version} is also used by {} (V{})",
                    other.origin, other.version
                )));
            }
        } else if downs.insert(version.clone(), (origin.clone(), sql)).is_some() {
            return Err(MigrateError::Source(format!(
                "{origin}: a second down migration for V{version}"
            )));
        }
    }
    for (version, (origin, sql)) in downs {
        let up = ups.get_mut(&version).ok_or_else(|| {
            MigrateError::Source(format!("{origin}: no V{version}__….sql for this down migration"))
        })?;
        up.down = Some(sql);
    }
    Ok(ups.into_values().collect())
}

/// Every `*.sql` file directly in `dir`.
pub fn from_dir(dir: &Path) -> Result<Vec<Migration>, MigrateError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        MigrateError::Source(format!("{}: cannot read directory: {e}", dir.display()))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| MigrateError::Source(format!("{}: {e}", dir.display())))?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !name.ends_with(".sql") {
            continue;
        }
        let sql = std::fs::read_to_string(&path)
            .map_err(|e| MigrateError::Source(format!("{}: cannot read: {e}", path.display())))?;
        files.push((name, path.display().to_string(), sql));
    }
    from_files(files)
}

/// A ConfigMap (`data: {file name: sql}`) as YAML; `origin` names it in messages.
pub fn from_configmap_yaml(yaml: &str, origin: &str) -> Result<Vec<Migration>, MigrateError> {
    #[derive(serde::Deserialize)]
    struct ConfigMap {
        #[serde(default)]
        data: BTreeMap<String, String>,
    }
    let map: ConfigMap = serde_yaml_ng::from_str(yaml).map_err(|e| {
        let place =
            e.location().map(|l| format!(":{}:{}", l.line(), l.column())).unwrap_or_default();
        MigrateError::Source(format!(
            "{origin}{place}: not a ConfigMap with data: {{file: sql}}: {e}"
        ))
    })?;
    from_files(
        map.data
            .into_iter()
            .map(|(file, sql)| (file.clone(), format!("{origin}#data.{file}"), sql)),
    )
}

/// The `*.sql` files in directory `subdir` ("" for the root) of `commit` in the repository at
/// `repo`, read from git objects.
pub fn from_git(repo: &Path, commit: &str, subdir: &str) -> Result<Vec<Migration>, MigrateError> {
    let err = |m: String| MigrateError::Source(format!("{} at {commit}: {m}", repo.display()));
    let repository = git2::Repository::open(repo).map_err(|e| err(e.message().to_owned()))?;
    let object = repository.revparse_single(commit).map_err(|e| err(e.message().to_owned()))?;
    let commit_obj = object.peel_to_commit().map_err(|e| err(e.message().to_owned()))?;
    let root = commit_obj.tree().map_err(|e| err(e.message().to_owned()))?;
    let subdir = subdir.trim_matches('/');
    let tree = if subdir.is_empty() {
        root
    } else {
        let entry = root
            .get_path(Path::new(subdir))
            .map_err(|_| err(format!("no directory {subdir:?}")))?;
        entry
            .to_object(&repository)
            .and_then(|o| o.peel_to_tree())
            .map_err(|_| err(format!("{subdir:?} is not a directory")))?
    };
    let mut files = Vec::new();
    for entry in tree.iter() {
        let Some(name) = entry.name().map(str::to_owned) else { continue };
        if entry.kind() != Some(git2::ObjectType::Blob) || !name.ends_with(".sql") {
            continue;
        }
        let blob = entry
            .to_object(&repository)
            .and_then(|o| o.peel_to_blob())
            .map_err(|e| err(e.message().to_owned()))?;
        let sql = String::from_utf8(blob.content().to_vec())
            .map_err(|_| err(format!("{name}: not UTF-8")))?;
        let path = if subdir.is_empty() { name.clone() } else { format!("{subdir}/{name}") };
        files.push((name, format!("{}@{}:{path}", repo.display(), commit_obj.id()), sql));
    }
    from_files(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let v = |s: &str| MigrationVersion::parse(s).unwrap();
        assert_eq!(parse_file_name("V1__init.sql"), Ok(Some((true, v("1"), "init".into()))));
        assert_eq!(parse_file_name("U12__add_x.sql"), Ok(Some((false, v("12"), "add_x".into()))));
        assert_eq!(parse_file_name("V1_5__x.sql"), Ok(Some((true, v("1.5"), "x".into()))));
        assert_eq!(parse_file_name("V1.5.2__a.b.sql"), Ok(Some((true, v("1.5.2"), "a.b".into()))));
        assert_eq!(parse_file_name("README.md"), Ok(None));
        for bad in [
            "V__x.sql",
            "V1_x.sql",
            "X1__x.sql",
            "V1a__x.sql",
            "V1__.sql",
            "V0__x.sql",
            "V0_0__x.sql",
            "V1..2__x.sql",
            "V1.__x.sql",
            "init.sql",
        ] {
            assert!(parse_file_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pairs_downs_and_rejects_duplicates() {
        let f = |n: &str, s: &str| (n.to_owned(), n.to_owned(), s.to_owned());
        let m = from_files([
            f("V2__b.sql", "-- tollgate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);"),
            f("V1__a.sql", "CREATE TABLE t (x int);"),
            f("U1__a.sql", "DROP TABLE t;"),
        ])
        .unwrap();
        assert_eq!(m.iter().map(|m| m.version.to_string()).collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(m[0].down.as_deref(), Some("DROP TABLE t;"));
        assert!(!m[0].no_transaction && m[1].no_transaction);
        assert_eq!(m[0].checksum, checksum("CREATE TABLE t (x int);"));
        let e = from_files([f("V1__a.sql", ""), f("V1__b.sql", "")]).unwrap_err();
        assert!(e.to_string().contains("version 1 is also used by"), "{e}");
        // Flyway's equality: 1.0 is 1, 1_5 is 1.5.
        let e = from_files([f("V1__a.sql", ""), f("V1.0__b.sql", "")]).unwrap_err();
        assert!(e.to_string().contains("is also used by"), "{e}");
        let e = from_files([f("V1_5__a.sql", ""), f("V1.5__b.sql", "")]).unwrap_err();
        assert!(e.to_string().contains("is also used by"), "{e}");
        let m = from_files([
            f("V1.10__c.sql", ""),
            f("V2__d.sql", ""),
            f("V1_9__b.sql", ""),
            f("V1__a.sql", ""),
            f("U1.10__c.sql", "-- down"),
        ])
        .unwrap();
        let order: Vec<_> = m.iter().map(|m| m.version.to_string()).collect();
        assert_eq!(order, ["1", "1.9", "1.10", "2"]);
        assert_eq!(m[2].down.as_deref(), Some("-- down"));
        let e = from_files([f("U3__x.sql", "")]).unwrap_err();
        assert!(e.to_string().contains("no V3__"), "{e}");
    }

    #[test]
    fn configmap_yaml() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata:\n  V1__a.sql: |\n    CREATE TABLE t (x int);\n  notes.txt: hi\n";
        let m = from_configmap_yaml(yaml, "cm.yaml").unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].sql, "CREATE TABLE t (x int);\n");
        assert_eq!(m[0].origin, "cm.yaml#data.V1__a.sql");
        let e = from_configmap_yaml("data: [1, 2]", "cm.yaml").unwrap_err();
        assert!(e.to_string().starts_with("cm.yaml:1:"), "{e}");
    }

    #[test]
    fn git_at_a_pinned_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let commit = |files: &[(&str, &str)], parent: Option<git2::Oid>| {
            let mut index = repo.index().unwrap();
            for (path, content) in files {
                let full = dir.path().join(path);
                std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                std::fs::write(&full, content).unwrap();
                index.add_path(Path::new(path)).unwrap();
            }
            index.write().unwrap();
            let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
            let parents: Vec<_> =
                parent.map(|p| repo.find_commit(p).unwrap()).into_iter().collect();
            let refs: Vec<_> = parents.iter().collect();
            repo.commit(Some("HEAD"), &sig, &sig, "c", &tree, &refs).unwrap()
        };
        let first = commit(&[("db/V1__a.sql", "SELECT 1;")], None);
        let second = commit(&[("db/V2__b.sql", "SELECT 2;")], Some(first));
        let at_first = from_git(dir.path(), &first.to_string(), "db").unwrap();
        assert_eq!(at_first.len(), 1);
        assert!(
            at_first[0].origin.ends_with(&format!("@{first}:db/V1__a.sql")),
            "{}",
            at_first[0].origin
        );
        assert_eq!(from_git(dir.path(), &second.to_string(), "db/").unwrap().len(), 2);
        assert!(from_git(dir.path(), &second.to_string(), "nope").is_err());
        assert!(from_git(dir.path(), "0123456789abcdef0123456789abcdef01234567", "db").is_err());
    }
}
