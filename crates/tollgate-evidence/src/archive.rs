//! The bundle's container: a tar stream in gzip or zstd, chosen by the file name. Written
//! entries get fixed headers (mtime `SOURCE_DATE_EPOCH` or 0, uid/gid 0, fixed modes), so the
//! same entries give the same bytes. Read entries are checked: links, special files and unsafe
//! paths are rejected, the manifest entries are capped at [`MAX_MANIFEST_BYTES`], and nothing
//! but padding may follow the end of the archive.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use flate2::Compression;

use crate::{EvidenceError, MAX_MANIFEST_BYTES};

/// The entry mtime: `SOURCE_DATE_EPOCH` when set, else 0.
pub fn source_date_epoch() -> Result<u64, EvidenceError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => {
            value.trim().parse::<u64>().map_err(|_| EvidenceError::SourceDateEpoch { value })
        }
        Err(_) => Ok(0),
    }
}

/// A bundle's compression, from its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.tar.gz` / `.tgz`: gzip (no file name, mtime 0 in the header).
    TarGz,
    /// `.tar.zst` / `.tzst`: zstd level 3 with a content checksum.
    TarZst,
}

/// The format `path`'s name says (`.tar.gz`, `.tgz`, `.tar.zst`, `.tzst`).
pub fn format_of(path: &Path) -> Result<Format, EvidenceError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Ok(Format::TarGz)
    } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
        Ok(Format::TarZst)
    } else {
        Err(EvidenceError::UnsupportedFormat { path: path.to_owned() })
    }
}

pub(crate) enum Compressor<W: Write> {
    Gz(flate2::write::GzEncoder<W>),
    Zst(zstd::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    pub(crate) fn new(format: Format, writer: W) -> std::io::Result<Self> {
        Ok(match format {
            Format::TarGz => Compressor::Gz(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(writer, Compression::default()),
            ),
            Format::TarZst => {
                let mut encoder = zstd::Encoder::new(writer, 3)?;
                encoder.include_checksum(true)?;
                Compressor::Zst(encoder)
            }
        })
    }

    pub(crate) fn finish(self) -> std::io::Result<W> {
        match self {
            Compressor::Gz(e) => e.finish(),
            Compressor::Zst(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Compressor::Gz(e) => e.write(buf),
            Compressor::Zst(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Compressor::Gz(e) => e.flush(),
            Compressor::Zst(e) => e.flush(),
        }
    }
}

pub(crate) enum Decompressor {
    Gz(flate2::bufread::GzDecoder<BufReader<File>>),
    Zst(zstd::Decoder<'static, BufReader<File>>),
}

impl Read for Decompressor {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Decompressor::Gz(d) => d.read(buf),
            Decompressor::Zst(d) => d.read(buf),
        }
    }
}

pub(crate) fn header(kind: tar::EntryType, size: u64, mode: u32, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// Checks an entry's type and path; returns the path (without a trailing `/` for directories)
/// and whether it is a directory.
pub(crate) fn check_entry<R: Read>(
    bundle: &Path,
    entry: &tar::Entry<'_, R>,
) -> Result<(String, bool), EvidenceError> {
    let raw = entry.path_bytes();
    let name = String::from_utf8_lossy(&raw).into_owned();
    let kind = entry.header().entry_type();
    let link = || {
        entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned())
            .unwrap_or_default()
    };
    let b = || bundle.to_owned();
    match kind {
        tar::EntryType::Regular | tar::EntryType::Directory => {}
        tar::EntryType::Symlink => {
            return Err(EvidenceError::Symlink { bundle: b(), entry: name, target: link() });
        }
        tar::EntryType::Link => {
            return Err(EvidenceError::Hardlink { bundle: b(), entry: name, target: link() });
        }
        other => {
            let kind = match other {
                tar::EntryType::Char => "character device".to_owned(),
                tar::EntryType::Block => "block device".to_owned(),
                tar::EntryType::Fifo => "FIFO".to_owned(),
                other => format!("special entry (tar type {:?})", other.as_byte() as char),
            };
            return Err(EvidenceError::SpecialFile { bundle: b(), entry: name, kind });
        }
    }
    if std::str::from_utf8(&raw).is_err() {
        return Err(EvidenceError::UnsafePath { bundle: b(), entry: name, reason: "not UTF-8" });
    }
    if name.starts_with('/') {
        return Err(EvidenceError::AbsolutePath { bundle: b(), entry: name });
    }
    let is_dir = kind == tar::EntryType::Directory;
    let trimmed = if is_dir { name.strip_suffix('/').unwrap_or(&name) } else { name.as_str() };
    if trimmed.split('/').any(|c| c == "..") {
        return Err(EvidenceError::PathTraversal { bundle: b(), entry: name });
    }
    if trimmed.contains('\\') {
        return Err(EvidenceError::UnsafePath {
            bundle: b(),
            entry: name,
            reason: "contains '\\'",
        });
    }
    if trimmed.is_empty() || trimmed.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(EvidenceError::UnsafePath {
            bundle: b(),
            entry: name,
            reason: "empty or '.' component",
        });
    }
    Ok((trimmed.to_owned(), is_dir))
}

pub(crate) type Archive = tar::Archive<Decompressor>;

pub(crate) fn open(bundle: &Path) -> Result<Archive, EvidenceError> {
    let format = format_of(bundle)?;
    let file = File::open(bundle).map_err(|e| EvidenceError::io(bundle, e))?;
    let reader = BufReader::with_capacity(256 * 1024, file);
    let decoder = match format {
        Format::TarGz => Decompressor::Gz(flate2::bufread::GzDecoder::new(reader)),
        Format::TarZst => Decompressor::Zst(
            zstd::Decoder::with_buffer(reader).map_err(|e| corrupt(bundle, None, &e))?,
        ),
    };
    Ok(tar::Archive::new(decoder))
}

pub(crate) fn corrupt(bundle: &Path, after: Option<&str>, e: &std::io::Error) -> EvidenceError {
    EvidenceError::Corrupt {
        bundle: bundle.to_owned(),
        after: after.map(str::to_owned),
        message: e.to_string(),
    }
}

/// Reads the next entry, which must be the regular file `expected`, whole (capped).
pub(crate) fn read_small<R: Read>(
    bundle: &Path,
    entries: &mut tar::Entries<'_, R>,
    expected: &'static str,
    index: usize,
    after: Option<&str>,
) -> Result<Vec<u8>, EvidenceError> {
    let Some(entry) = entries.next() else {
        return Err(EvidenceError::ManifestMissing {
            bundle: bundle.to_owned(),
            expected,
            index,
            found: "the end of the archive".into(),
        });
    };
    let mut entry = entry.map_err(|e| corrupt(bundle, after, &e))?;
    let (name, is_dir) = check_entry(bundle, &entry)?;
    if name != expected || is_dir {
        return Err(EvidenceError::ManifestMissing {
            bundle: bundle.to_owned(),
            expected,
            index,
            found: format!("{name:?}"),
        });
    }
    if entry.size() > MAX_MANIFEST_BYTES {
        return Err(EvidenceError::ManifestInvalid {
            bundle: bundle.to_owned(),
            entry: expected,
            message: format!(
                "{} bytes is more than the {MAX_MANIFEST_BYTES} accepted",
                entry.size()
            ),
        });
    }
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).map_err(|e| corrupt(bundle, Some(expected), &e))?;
    Ok(bytes)
}

/// Reads what follows the tar end-of-archive marker: it must be zero padding, then the gzip
/// trailer (whose CRC and length are checked here), then nothing.
pub(crate) fn finish_stream(
    bundle: &Path,
    archive: Archive,
    last: &str,
) -> Result<(), EvidenceError> {
    let mut decoder = archive.into_inner();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = decoder.read(&mut buf).map_err(|e| corrupt(bundle, Some(last), &e))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Err(EvidenceError::Corrupt {
                bundle: bundle.to_owned(),
                after: Some(last.to_owned()),
                message: "data after the end of the tar archive".into(),
            });
        }
    }
    // zstd's decoder reads every frame to the end of the file; gzip's stops after one member.
    let Decompressor::Gz(decoder) = decoder else {
        return Ok(());
    };
    let mut rest = decoder.into_inner();
    let n = rest.read(&mut buf).map_err(|e| EvidenceError::io(bundle, e))?;
    if n > 0 {
        return Err(EvidenceError::Corrupt {
            bundle: bundle.to_owned(),
            after: Some(last.to_owned()),
            message: "data after the end of the gzip stream".into(),
        });
    }
    Ok(())
}
