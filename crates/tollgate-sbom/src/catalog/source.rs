//! Reading input files and the small encodings every cataloguer needs.

use crate::error::Place;
use crate::{Hash, HashAlgorithm, SbomError};
use base64::Engine as _;
use std::path::{Path, PathBuf};
use tollgate_core::Digest;

/// An input file read whole, with its name relative to the scanned root and its digest.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as given (absolute or relative to the working directory), for error messages.
    pub path: PathBuf,
    /// Path relative to the scanned root with `/` separators, for `found_in` and gate inputs.
    pub relative: String,
    /// The contents.
    pub text: String,
    /// SHA-256 of the contents.
    pub digest: Digest,
}

impl SourceFile {
    /// Reads `path`, which must be valid UTF-8. A leading byte-order mark (editors on Windows
    /// write one into `package.json`; npm and pnpm accept it) is dropped from the text; the
    /// digest is of the bytes as stored.
    pub fn read(root: &Path, path: &Path) -> Result<SourceFile, SbomError> {
        let bytes = std::fs::read(path).map_err(|e| SbomError::io(path, e))?;
        let digest = Digest::sha256(&bytes);
        let mut text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            SbomError::malformed(Place::line(path, line), "not valid UTF-8")
        })?;
        if text.starts_with('\u{feff}') {
            text.drain(..'\u{feff}'.len_utf8());
        }
        Ok(SourceFile {
            path: path.to_path_buf(),
            relative: relative_name(root, path),
            text,
            digest,
        })
    }

    /// A place in this file at a 1-based line.
    pub fn at_line(&self, line: usize) -> Place {
        Place::line(&self.path, line)
    }

    /// The 1-based line on which byte `offset` lies.
    pub fn line_of(&self, offset: usize) -> usize {
        tollgate_core::config::line_column(&self.text, offset).0
    }
}

/// `path` relative to `root`, `/`-separated; the path itself when it is not under `root`.
pub fn relative_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> =
        rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    parts.join("/")
}

/// A canonical package URL: `pkg:type/namespace/name@version?qualifiers`.
///
/// Qualifiers are given as pairs and written sorted, as the purl spec requires.
pub fn purl(
    purl_type: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let built = (|| {
        let mut p = packageurl::PackageUrl::new(purl_type, name).ok()?;
        if let Some(ns) = namespace {
            p.with_namespace(ns).ok()?;
        }
        if !version.is_empty() {
            p.with_version(version).ok()?;
        }
        let mut q: Vec<_> = qualifiers.to_vec();
        q.sort();
        for (k, v) in q {
            p.add_qualifier(k, v).ok()?;
        }
        Some(p.to_string())
    })();
    // packageurl rejects only names that cannot be expressed; fall back to a percent-encoded form.
    built.unwrap_or_else(|| match version {
        "" => format!("pkg:{purl_type}/{}", encode(name)),
        v => format!("pkg:{purl_type}/{}@{}", encode(name), encode(v)),
    })
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Decodes a Subresource Integrity string (`sha512-<base64>`, several separated by spaces) into
/// hex hashes. Unknown algorithms are skipped; malformed base64 gives `None`.
pub fn integrity_to_hash(integrity: &str) -> Option<Vec<Hash>> {
    let mut hashes = Vec::new();
    for part in integrity.split_whitespace() {
        let (alg, b64) = part.split_once('-')?;
        let algorithm = match alg {
            "sha1" => HashAlgorithm::Sha1,
            "sha256" => HashAlgorithm::Sha256,
            "sha384" => HashAlgorithm::Sha384,
            "sha512" => HashAlgorithm::Sha512,
            _ => continue,
        };
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        if !hashes.iter().any(|h: &Hash| h.algorithm == algorithm) {
            hashes.push(Hash { algorithm, hex: hex::encode(bytes) });
        }
    }
    hashes.sort();
    Some(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_encodes_scope_and_sorts_qualifiers() {
        assert_eq!(
            purl("npm", Some("@babel"), "core", "7.0.0", &[]),
            "pkg:npm/%40babel/core@7.0.0"
        );
        assert_eq!(purl("pypi", None, "requests", "", &[]), "pkg:pypi/requests");
        assert_eq!(
            purl("cargo", None, "serde", "1.0.0", &[("z", "1"), ("a", "2")]),
            "pkg:cargo/serde@1.0.0?a=2&z=1"
        );
    }

    /// The purl spec's case rules per type (through `packageurl`, which transcribes the spec's
    /// type definitions): npm and pypi names are lowercased, golang namespaces are, cargo and
    /// pub keep their case. Component names keep the published case; only purls change.
    #[test]
    fn purls_follow_each_types_case_rules() {
        assert_eq!(purl("npm", None, "JSONStream", "1.3.5", &[]), "pkg:npm/jsonstream@1.3.5");
        assert_eq!(
            purl("npm", Some("@Azure"), "Core-Auth", "1.0.0", &[]),
            "pkg:npm/%40Azure/core-auth@1.0.0"
        );
        assert_eq!(purl("pypi", None, "PyYAML", "6.0.2", &[]), "pkg:pypi/pyyaml@6.0.2");
        assert_eq!(
            purl("golang", Some("github.com/AlecAivazis/survey"), "v2", "v2.3.7", &[]),
            "pkg:golang/github.com/alecaivazis/survey/v2@v2.3.7"
        );
        assert_eq!(
            purl("golang", Some("github.com/x"), "BurntSushi", "v1.0.0", &[]),
            "pkg:golang/github.com/x/BurntSushi@v1.0.0"
        );
        assert_eq!(purl("cargo", None, "Inflector", "0.11.4", &[]), "pkg:cargo/Inflector@0.11.4");
        assert_eq!(purl("pub", None, "Flutter_Svg", "1.0.0", &[]), "pkg:pub/Flutter_Svg@1.0.0");
    }

    #[test]
    fn sri_sha512_decodes_to_hex() {
        let hashes = integrity_to_hash("sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==").unwrap();
        assert_eq!(hashes.len(), 1);
        assert_eq!(hashes[0].algorithm, HashAlgorithm::Sha512);
        assert!(hashes[0].hex.starts_with("cf83e1357eefb8bd"));
        assert!(integrity_to_hash("sha512-!!!").is_none());
    }

    #[test]
    fn a_byte_order_mark_is_dropped_but_digested() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("package.json");
        std::fs::write(&path, "\u{feff}{\"name\": \"x\"}\n").unwrap();
        let file = SourceFile::read(dir.path(), &path).unwrap();
        assert_eq!(file.text, "{\"name\": \"x\"}\n");
        assert_eq!(file.digest, Digest::sha256(&std::fs::read(&path).unwrap()));
    }

    #[test]
    fn relative_names_use_slashes() {
        assert_eq!(relative_name(Path::new("/a"), Path::new("/a/b/c.lock")), "b/c.lock");
    }
}
