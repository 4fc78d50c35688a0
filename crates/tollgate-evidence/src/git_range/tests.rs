//! The release range on real repositories built with git2 in temp dirs, including commits
//! signed through git2's `commit_signed` with SSH and OpenPGP signature blocks.

use super::*;

/// A syntactically real SSHSIG armour (magic, version, an ed25519 public key, namespace `git`,
/// sha512, an ed25519 signature blob); the bytes are not a valid signature over anything.
const SSH_SIGNATURE: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg+vzVtmSwN+fFGc6UlpCiDfQKKG
rABmvsfbgB2u7601EAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5
AAAAQKKH7PBYt8AwsS7CUMZNSjxaMXFfyAgptkEIGES6AwB1YxiEkROO6u3qXqwBAGrWZI
Wzzl4hndiKHzTdGmzdz2g=
-----END SSH SIGNATURE-----";

/// An OpenPGP armour with a body and CRC line in the armour's syntax.
const PGP_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----

iHUEABYKAB0WIQTq5u6RH9WqE6Kx0qf3o0Bq3u8AAAUCZWPiAAAKCRD3o0Bq3u8A
AE3lAP0T0b6p3Yg2m0l6hQ1v0dT8yq0x4D3kR8y0m3c9aJ3n2AD/Yq6cF4z7t0cY
=Yq6c
-----END PGP SIGNATURE-----";

struct Repo {
    dir: tempfile::TempDir,
    repo: git2::Repository,
    clock: i64,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(dir.path()).unwrap();
        Repo { dir, repo, clock: 1_700_000_000 }
    }

    fn signature(&mut self) -> git2::Signature<'static> {
        self.clock += 60;
        git2::Signature::new("Ada Lovelace", "ada@example.com", &git2::Time::new(self.clock, 60))
            .unwrap()
    }

    /// Writes `file` and commits it on HEAD, signed with `gpgsig` when given.
    fn commit(&mut self, file: &str, message: &str, gpgsig: Option<&str>) -> git2::Oid {
        let who = self.signature();
        std::fs::write(self.dir.path().join(file), message).unwrap();
        let mut index = self.repo.index().unwrap();
        index.add_path(Path::new(file)).unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        match gpgsig {
            None => self.repo.commit(Some("HEAD"), &who, &who, message, &tree, &parents).unwrap(),
            Some(sig) => {
                let buffer =
                    self.repo.commit_create_buffer(&who, &who, message, &tree, &parents).unwrap();
                let oid =
                    self.repo.commit_signed(buffer.as_str().unwrap(), sig, Some("gpgsig")).unwrap();
                // commit_signed writes the object only; move the branch HEAD points at.
                let head = self.repo.find_reference("HEAD").unwrap();
                let branch = head.symbolic_target().unwrap().to_owned();
                self.repo.reference(&branch, oid, true, message).unwrap();
                oid
            }
        }
    }

    fn tag(&self, name: &str, oid: git2::Oid) {
        let object = self.repo.find_object(oid, None).unwrap();
        let who = git2::Signature::new("Rel", "rel@example.com", &git2::Time::new(1, 0)).unwrap();
        self.repo.tag(name, &object, &who, name, false).unwrap();
    }
}

#[test]
fn range_runs_from_the_previous_release_tag_and_classifies_signatures() {
    let mut r = Repo::new();
    let first = r.commit("a.txt", "first", None);
    r.tag("v1.0.0", first);
    let old = r.commit("b.txt", "old release", None);
    r.tag("0.9.0", old); // lower version, and not the highest: ignored
    r.tag("v1.1.0-rc.1", old); // pre-release: ignored
    let ssh = r.commit("c.txt", "ssh signed\n\nbody text", Some(SSH_SIGNATURE));
    let gpg = r.commit("d.txt", "gpg signed", Some(PGP_SIGNATURE));
    let plain = r.commit("e.txt", "plain", None);
    r.tag("v2.0.0", plain); // on HEAD itself: the release being made, not the previous one

    let range = collect(r.dir.path(), None).unwrap();
    assert_eq!(range.range.base.as_deref(), Some("v1.0.0"));
    assert_eq!(range.range.base_sha, Some(first.to_string()));
    assert_eq!(range.range.head, "HEAD");
    assert_eq!(range.range.head_sha, plain.to_string());
    assert_eq!(range.range.selected_by, "previous-release-tag");
    let shas: Vec<_> = range.commits.iter().map(|c| c.sha.clone()).collect();
    assert_eq!(shas, [old, ssh, gpg, plain].map(|o| o.to_string()));

    let kinds: Vec<_> = range.commits.iter().map(|c| c.signature.kind).collect();
    assert_eq!(
        kinds,
        [SignatureKind::None, SignatureKind::Ssh, SignatureKind::Gpg, SignatureKind::None]
    );
    let ssh_commit = &range.commits[1];
    assert!(!ssh_commit.signature.verified);
    assert_eq!(ssh_commit.signature.reason.as_deref(), Some(UNVERIFIED_REASON));
    assert_eq!(ssh_commit.summary, "ssh signed");
    assert_eq!(ssh_commit.parents, [old.to_string()]);
    assert_eq!(ssh_commit.author.email, "ada@example.com");
    assert_eq!(ssh_commit.author.time, "2023-11-14T23:16:20+01:00");
    assert_eq!(range.summary, RangeSummary { commits: 4, signed: 2, unsigned: 2 });

    let findings = range.findings("git.json", Severity::Info);
    assert_eq!(findings.len(), 2);
    assert!(findings.iter().all(|f| f.rule == RULE_UNSIGNED && f.severity == Severity::Info));
    assert_eq!(findings[0].subject, Some(old.to_string()));
    assert_eq!(findings[1].location.as_ref().unwrap().pointer.as_deref(), Some("/commits/3"));

    // Deterministic bytes: read twice, and the JSON round-trips.
    let again = collect(r.dir.path(), None).unwrap();
    assert_eq!(range.to_bytes(), again.to_bytes());
    let parsed: GitRange = serde_json::from_slice(&range.to_bytes()).unwrap();
    assert_eq!(parsed, range);
    let json: serde_json::Value = serde_json::from_slice(&range.to_bytes()).unwrap();
    assert_eq!(json["commits"][1]["signature"]["kind"], "ssh");
    assert_eq!(
        json["commits"][0]["signature"],
        serde_json::json!({"kind": "none", "verified": false})
    );
}

#[test]
fn explicit_range_and_no_tags() {
    let mut r = Repo::new();
    let a = r.commit("a.txt", "a", None);
    let b = r.commit("b.txt", "b", None);
    let c = r.commit("c.txt", "c", None);

    let all = collect(r.dir.path(), None).unwrap();
    assert_eq!(all.range.selected_by, "root");
    assert_eq!(all.range.base, None);
    assert_eq!(all.commits.len(), 3);
    assert!(all.commits[0].parents.is_empty());

    let explicit = collect(r.dir.path(), Some(&format!("{a}..{b}"))).unwrap();
    assert_eq!(explicit.range.selected_by, "explicit");
    assert_eq!(explicit.commits.iter().map(|c| c.sha.clone()).collect::<Vec<_>>(), [b.to_string()]);
    let head_rel = collect(r.dir.path(), Some("HEAD~2..HEAD")).unwrap();
    assert_eq!(
        head_rel.commits.iter().map(|c| c.sha.clone()).collect::<Vec<_>>(),
        [b.to_string(), c.to_string()]
    );
}

#[test]
fn bad_ranges_and_non_repositories_are_input_errors() {
    let mut r = Repo::new();
    r.commit("a.txt", "a", None);
    for bad in ["HEAD", "..HEAD", "HEAD..", "HEAD...HEAD"] {
        let err = collect(r.dir.path(), Some(bad)).unwrap_err();
        assert!(matches!(err, GitRangeError::RangeSyntax { .. }), "{bad}: {err}");
    }
    let err = collect(r.dir.path(), Some("nope..HEAD")).unwrap_err();
    assert!(err.to_string().starts_with("nope: no such git revision"), "{err}");

    let empty = tempfile::tempdir().unwrap();
    let err = collect(empty.path(), None).unwrap_err();
    assert!(matches!(err, GitRangeError::Repository { .. }), "{err}");
    git2::Repository::init(empty.path()).unwrap();
    let err = collect(empty.path(), None).unwrap_err();
    assert!(matches!(err, GitRangeError::NoHead { .. }), "{err}");
}

#[test]
fn signature_kinds_from_armour() {
    assert_eq!(SignatureKind::classify(SSH_SIGNATURE.as_bytes()), SignatureKind::Ssh);
    assert_eq!(SignatureKind::classify(PGP_SIGNATURE.as_bytes()), SignatureKind::Gpg);
    assert_eq!(
        SignatureKind::classify(
            b"-----BEGIN SIGNED MESSAGE-----\nMIAG\n-----END SIGNED MESSAGE-----"
        ),
        SignatureKind::X509
    );
    assert_eq!(SignatureKind::classify(b"garbage"), SignatureKind::Unknown);
}
