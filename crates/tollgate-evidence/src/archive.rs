//! The bundle's container as written: a tar stream in gzip or zstd, chosen by the file name.
//! Written entries get fixed headers (mtime `SOURCE_DATE_EPOCH` or 0, uid/gid 0, fixed modes),
//! so the same entries give the same bytes. Reading is strict about exactly these headers:
//! [`crate::container`] (the compression layer) and [`crate::tar_stream`] (the tar stream).

use std::io::Write;
use std::path::Path;

use flate2::Compression;

use crate::EvidenceError;

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

/// The header of an entry as the builder writes it (no name yet): GNU format, uid/gid 0.
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
