//! Attaching a file (an evidence bundle) to a GitHub release as an asset — never overwriting.
//!
//! The release is found by tag (`GET /repos/{o}/{r}/releases/tags/{tag}`), its assets listed
//! (`GET /repos/{o}/{r}/releases/{id}/assets`, paginated). An asset of the same name is left
//! alone: when its `size` and `digest` (`sha256:…`, which GitHub reports for assets) equal the
//! file's, the file is already published and nothing is sent; otherwise — including when GitHub
//! gives no digest, so sameness cannot be shown — the upload is refused
//! ([`GitHubError::AssetExists`]). Otherwise the file is sent to the release's `upload_url`
//! (`POST …?name=…`) with a content type from its name, and GitHub's answer is checked against
//! the file's size (and digest, when given).
//!
//! The file is read into memory for the upload (GitHub caps release assets at 2 GiB); its
//! digest is computed streaming first.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{
    GitHub, GitHubError, RepoSlug, decode, encode_path_segment, encode_query_value, expect_success,
};

/// An asset as GitHub describes it (the fields the decision needs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asset {
    /// Asset id.
    pub id: u64,
    /// File name on the release.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// `sha256:<hex>`, when GitHub reports it.
    #[serde(default)]
    pub digest: Option<String>,
    /// The media type it is served with.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Where it downloads from.
    #[serde(default)]
    pub browser_download_url: Option<String>,
}

/// What [`attach`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The file was uploaded as this asset.
    Uploaded(Asset),
    /// An identical asset (same name, size and sha256) was already there; nothing was sent.
    AlreadyPresent(Asset),
}

#[derive(Debug, Deserialize)]
struct ApiRelease {
    id: u64,
    upload_url: String,
}

/// The media type an asset is uploaded with, from its name.
pub fn content_type(name: &str) -> &'static str {
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        "application/gzip"
    } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
        "application/zstd"
    } else if name.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// Attaches `file` to the release tagged `tag` of `repo`, under the file's own name.
pub fn attach(
    github: &GitHub,
    repo: &RepoSlug,
    tag: &str,
    file: &Path,
) -> Result<Attached, GitHubError> {
    let io = |cause| GitHubError::Io { path: file.to_path_buf(), cause };
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io(std::io::Error::other("no UTF-8 file name to publish the asset under")))?
        .to_owned();
    let (size, sha256) = digest_file(file).map_err(io)?;
    let digest = format!("sha256:{sha256}");

    let path = format!("/repos/{repo}/releases/tags/{}", encode_path_segment(tag));
    let release: ApiRelease = github.get_json(&path)?.ok_or_else(|| {
        GitHubError::ReleaseNotFound { repo: repo.to_string(), tag: tag.to_owned() }
    })?;
    let assets_path = format!("/repos/{repo}/releases/{}/assets?per_page=100", release.id);
    let assets: Vec<Asset> = github.get_all(&assets_path, decode)?;
    if let Some(existing) = assets.into_iter().find(|a| a.name == name) {
        let reason = match &existing.digest {
            _ if existing.size != size => {
                format!("has {} bytes where the file has {size}", existing.size)
            }
            None => "GitHub reports no digest for it, so it cannot be shown identical".to_owned(),
            Some(d) if !d.eq_ignore_ascii_case(&digest) => {
                format!("has digest {d} where the file has {digest}")
            }
            Some(_) => return Ok(Attached::AlreadyPresent(existing)),
        };
        return Err(GitHubError::AssetExists { tag: tag.to_owned(), name, reason });
    }

    let target = upload_target(&release.upload_url, &name);
    let uploader = github.uploader(&target)?;
    let bytes = std::fs::read(file).map_err(io)?;
    let reply = github.send(
        &uploader,
        http::Method::POST,
        &target,
        Some((bytes::Bytes::from(bytes), content_type(&name))),
    )?;
    expect_success("POST", &target, &reply)?;
    let asset: Asset = decode(&target, &reply.body)?;
    let mismatch = |reason: String| GitHubError::UploadMismatch {
        tag: tag.to_owned(),
        name: name.clone(),
        reason,
    };
    if asset.size != size {
        return Err(mismatch(format!("GitHub stored {} bytes, the file has {size}", asset.size)));
    }
    if let Some(d) = &asset.digest
        && !d.eq_ignore_ascii_case(&digest)
    {
        return Err(mismatch(format!("GitHub reports {d}, the file is {digest}")));
    }
    Ok(Attached::Uploaded(asset))
}

/// `upload_url` is a URI template (`…/assets{?name,label}`): drop the template, add the name.
fn upload_target(upload_url: &str, name: &str) -> String {
    let base = upload_url.split('{').next().unwrap_or(upload_url);
    format!("{base}?name={}", encode_query_value(name))
}

fn digest_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(path)?);
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_targets_and_types() {
        assert_eq!(
            upload_target(
                "https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}",
                "evidence v1.tar.gz"
            ),
            "https://uploads.github.com/repos/o/r/releases/1/assets?name=evidence%20v1.tar.gz"
        );
        assert_eq!(content_type("b.tar.gz"), "application/gzip");
        assert_eq!(content_type("b.tar.zst"), "application/zstd");
        assert_eq!(content_type("b.bin"), "application/octet-stream");
    }
}
