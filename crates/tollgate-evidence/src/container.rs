//! The compression layer of a bundle being read: [`open`] checks the file starts with the
//! magic number its name promises and decompresses exactly one gzip member or one zstd frame;
//! [`Container::finish`] then requires that nothing follows it.
//!
//! The rules, so that every decompressor sees the same tar stream:
//! - A file that does not start with the magic number (gzip `1f 8b`, zstd frame `28 b5 2f fd`)
//!   is not a bundle at all: an input error ([`EvidenceError::NotABundle`]). An empty file is
//!   not a bundle either; a file shorter than the magic number but starting like it is a
//!   truncated bundle ([`EvidenceError::Corrupt`]).
//! - gzip: one member; its CRC-32 and length are checked at its end. A second member (which
//!   `gzip -d`, and so GNU tar, would decompress and append) or any other byte after the first
//!   member is rejected.
//! - zstd: one frame (its content checksum, when present, is checked at its end). A skippable
//!   frame (magic `0x184D2A50`..`0x184D2A5F`, which zstd decoders skip silently), before or
//!   after the frame, and a second frame are rejected.

use std::fs::File;
use std::io::{BufReader, Read, Seek as _};
use std::path::Path;

use crate::{EvidenceError, Format, format_of};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// True when `bytes` start with a zstd skippable frame's magic number (`0x184D2A5?`, little
/// endian).
fn is_skippable(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && bytes[0] & 0xf0 == 0x50 && bytes[1..4] == [0x2a, 0x4d, 0x18]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

enum Decoder {
    Gz(flate2::bufread::GzDecoder<BufReader<File>>),
    Zst(zstd::Decoder<'static, BufReader<File>>),
}

/// A bundle's decompressed tar stream: one gzip member or one zstd frame.
pub(crate) struct Container {
    decoder: Decoder,
}

impl Read for Container {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.decoder {
            Decoder::Gz(d) => d.read(buf),
            Decoder::Zst(d) => d.read(buf),
        }
    }
}

/// Reads up to `buf.len()` bytes, fewer only at the end of `reader`.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Opens `bundle` for reading: its name gives the format, its first bytes must be that
/// format's magic number.
pub(crate) fn open(bundle: &Path) -> Result<Container, EvidenceError> {
    let format = format_of(bundle)?;
    let mut file = File::open(bundle).map_err(|e| EvidenceError::io(bundle, e))?;
    let mut head = [0u8; 4];
    let n = read_up_to(&mut file, &mut head).map_err(|e| EvidenceError::io(bundle, e))?;
    file.rewind().map_err(|e| EvidenceError::io(bundle, e))?;
    let head = &head[..n];
    let (name, magic): (&'static str, &[u8]) = match format {
        Format::TarGz => ("gzip", &GZIP_MAGIC),
        Format::TarZst => ("zstd", &ZSTD_MAGIC),
    };
    let not_a_bundle = |found: String| EvidenceError::NotABundle {
        path: bundle.to_owned(),
        format: name,
        magic: hex(magic),
        found,
    };
    if head.is_empty() {
        return Err(not_a_bundle("an empty file".into()));
    }
    if format == Format::TarZst && is_skippable(head) {
        return Err(corrupt(bundle, None, "starts with a zstd skippable frame".into()));
    }
    let len = head.len().min(magic.len());
    if head[..len] != magic[..len] {
        return Err(not_a_bundle(format!("a file starting with {}", hex(head))));
    }
    if len < magic.len() {
        return Err(corrupt(bundle, None, format!("{n} byte(s), shorter than the {name} header")));
    }
    let reader = BufReader::with_capacity(256 * 1024, file);
    let decoder = match format {
        Format::TarGz => Decoder::Gz(flate2::bufread::GzDecoder::new(reader)),
        Format::TarZst => Decoder::Zst(
            zstd::Decoder::with_buffer(reader)
                .map_err(|e| corrupt(bundle, None, e.to_string()))?
                .single_frame(),
        ),
    };
    Ok(Container { decoder })
}

fn corrupt(bundle: &Path, after: Option<&str>, message: String) -> EvidenceError {
    EvidenceError::Corrupt { bundle: bundle.to_owned(), after: after.map(str::to_owned), message }
}

impl Container {
    /// Called once the decompressed stream has ended (the gzip member's CRC-32 and length, or
    /// the zstd frame's checksum, have been checked): fails if any byte follows the member or
    /// frame in the file. `last` names the archive's last entry in the error.
    pub(crate) fn finish(self, bundle: &Path, last: &str) -> Result<(), EvidenceError> {
        let (mut rest, what) = match self.decoder {
            Decoder::Gz(d) => (d.into_inner(), "gzip stream"),
            Decoder::Zst(d) => (d.finish(), "zstd frame"),
        };
        let mut head = [0u8; 4];
        let n = read_up_to(&mut rest, &mut head).map_err(|e| EvidenceError::io(bundle, e))?;
        if n == 0 {
            return Ok(());
        }
        let message = if what == "zstd frame" && is_skippable(&head[..n]) {
            "a zstd skippable frame follows the zstd frame".to_owned()
        } else {
            format!("data after the end of the {what}")
        };
        Err(corrupt(bundle, Some(last), message))
    }
}
