//! A strict reader of a bundle's tar stream: [`TarReader`]. It accepts exactly the headers
//! [`build`](crate::build) writes, so that what it reads is what GNU tar, Python's `tarfile`
//! or any other extractor reads, and it never reads further than a header allows.
//!
//! The rules:
//! - Every header has a valid checksum and is the canonical GNU header the builder writes for
//!   its name, type, size and mtime: GNU magic, mode 0644 (files) or 0755 (directories),
//!   uid/gid 0, empty owner names, no link name, numbers as zero-padded octal (sizes of 8 GiB
//!   and more in base-256, as GNU tar writes them), zeros after the name and in every field
//!   the builder leaves empty (which Python would read as a ustar prefix, GNU tar as sparse
//!   data). Anything else is [`EvidenceError::NonCanonical`].
//! - Entry types: regular files (`0`) and directories (`5`), and GNU long-name entries (`L`)
//!   for names longer than the header holds: at most 4096 bytes, one NUL at the end and none
//!   inside, directly followed by the entry they name. Links, devices, FIFOs, pax headers and
//!   every other type are rejected by name; so is a directory entry with a size (extractors
//!   read its "data" as further headers, this reader would skip it).
//! - Names: UTF-8, relative, no `..`, `.`, empty components or `\`; a directory's name ends
//!   with one `/`, a file's does not.
//! - The data of each entry is padded with zeros to the next 512-byte block.
//! - The archive ends with the end-of-archive marker (two zero blocks), followed by zeros only
//!   up to the end of the 10240-byte record the marker ends in (GNU tar's default blocking
//!   factor of 20); more than that, a non-zero byte, or an incomplete marker is
//!   [`EvidenceError::Corrupt`]. [`TarReader::finish`] reads at most one byte past that record.
//!
//! Bounded reading: [`TarReader::next`] reads one header (two with a long name of at most
//! 4096 bytes) and returns it before any data is read, so the caller decides from the header
//! (its size against the signed manifest) whether to read the data at all.

use std::io::{self, Read};
use std::path::Path;

use crate::EvidenceError;
use crate::archive;

/// The tar block size.
pub(crate) const BLOCK: u64 = 512;
/// GNU tar's default record size (20 blocks): zero padding may complete the last record.
pub(crate) const RECORD: u64 = 20 * BLOCK;
/// The longest name a GNU long-name entry may hold.
pub(crate) const MAX_LONG_NAME: u64 = 4096;

const LONG_LINK: &[u8] = b"././@LongLink";
const GNU_MAGIC: &[u8] = b"ustar  \0";

/// An entry's header, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The path, without the trailing `/` of a directory.
    pub(crate) path: String,
    /// A directory (its size is 0).
    pub(crate) is_dir: bool,
    /// The data size the header declares.
    pub(crate) size: u64,
}

/// Counts the bytes read from the decompressed stream.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Reads a tar stream entry by entry, checking each header before its data is read.
pub(crate) struct TarReader<'b, R> {
    bundle: &'b Path,
    inner: Counting<R>,
    /// Where the current entry's data ends (its padding follows).
    data_end: u64,
    /// The current entry's path, complete once its data is read.
    current: Option<String>,
    /// The last entry read completely.
    last: Option<String>,
    /// Where the end-of-archive marker starts, once read.
    end: Option<u64>,
}

/// The entry's data: exactly `remaining` bytes, or an error if the stream ends first.
pub(crate) struct Data<'a, R> {
    inner: &'a mut Counting<R>,
    remaining: u64,
}

impl<R: Read> Read for Data<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the archive ends {} bytes before the entry's end", self.remaining),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

impl<'b, R: Read> TarReader<'b, R> {
    /// Reads the tar stream `inner` of `bundle` (named in errors).
    pub(crate) fn new(bundle: &'b Path, inner: R) -> Self {
        TarReader {
            bundle,
            inner: Counting { inner, count: 0 },
            data_end: 0,
            current: None,
            last: None,
            end: None,
        }
    }

    /// The last entry read completely, for messages (`manifest.json` before any).
    pub(crate) fn last(&self) -> &str {
        self.last.as_deref().unwrap_or("")
    }

    /// A corrupt-archive error at the current place.
    pub(crate) fn corrupt(&self, message: impl ToString) -> EvidenceError {
        EvidenceError::Corrupt {
            bundle: self.bundle.to_owned(),
            after: self.last.clone(),
            message: message.to_string(),
        }
    }

    /// The bundle being read.
    pub(crate) fn bundle(&self) -> &Path {
        self.bundle
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), EvidenceError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) if filled == 0 => {
                    return Err(self.corrupt(format!(
                        "the archive ends before {what} (no end-of-archive marker)"
                    )));
                }
                Ok(0) => return Err(self.corrupt(format!("the archive ends inside {what}"))),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.corrupt(e)),
            }
        }
        Ok(())
    }

    /// Skips what the caller left of the current entry's data, and checks its padding.
    fn end_entry(&mut self) -> Result<(), EvidenceError> {
        if self.inner.count < self.data_end {
            let rest = self.data_end - self.inner.count;
            let mut data = Data { inner: &mut self.inner, remaining: rest };
            let copied = io::copy(&mut data, &mut io::sink());
            copied.map_err(|e| self.corrupt(e))?;
        }
        let padded = self.data_end.next_multiple_of(BLOCK);
        if self.inner.count < padded {
            let mut pad = vec![0u8; (padded - self.inner.count) as usize];
            self.read_exact(&mut pad, "the padding of an entry")?;
            if pad.iter().any(|&b| b != 0) {
                let entry = self.current.clone().unwrap_or_default();
                return Err(self.non_canonical(&entry, "non-zero bytes pad its data".into()));
            }
        }
        if let Some(current) = self.current.take() {
            self.last = Some(current);
        }
        Ok(())
    }

    fn non_canonical(&self, entry: &str, what: String) -> EvidenceError {
        EvidenceError::NonCanonical {
            bundle: self.bundle.to_owned(),
            entry: entry.to_owned(),
            what,
        }
    }

    /// The next entry's header, checked, or `None` at the end-of-archive marker (then call
    /// [`TarReader::finish`]). The previous entry's unread data is skipped.
    pub(crate) fn next(&mut self) -> Result<Option<Entry>, EvidenceError> {
        if self.end.is_some() {
            return Ok(None);
        }
        self.end_entry()?;
        let start = self.inner.count;
        let mut block = [0u8; BLOCK as usize];
        self.read_exact(&mut block, "the next header")?;
        if block.iter().all(|&b| b == 0) {
            self.end = Some(start);
            return Ok(None);
        }
        let mut long_name = None;
        if block[156] == b'L' {
            let name = self.long_name(&block, start)?;
            let start = self.inner.count;
            self.read_exact(&mut block, "the entry a GNU long name names")?;
            if block.iter().all(|&b| b == 0) {
                return Err(self.corrupt("a GNU long-name entry is followed by the end marker"));
            }
            long_name = Some((name, start));
        }
        let (long_name, start) = match long_name {
            Some((name, at)) => (Some(name), at),
            None => (None, start),
        };
        let entry = self.entry(&block, long_name.as_deref(), start)?;
        self.data_end = self.inner.count + entry.size;
        self.current = Some(entry.path.clone());
        Ok(Some(entry))
    }

    /// Reads a GNU long-name entry (header `block` at `start`): its name, without the NUL.
    fn long_name(&mut self, block: &[u8; 512], start: u64) -> Result<String, EvidenceError> {
        checksum(block).map_err(|m| self.corrupt(format!("{m} at offset {start}")))?;
        let header = tar::Header::from_byte_slice(block);
        let entry = "././@LongLink";
        let size = header
            .entry_size()
            .map_err(|e| self.non_canonical(entry, format!("size field: {e}")))?;
        if size == 0 || size > MAX_LONG_NAME + 1 {
            return Err(self.non_canonical(
                entry,
                format!("a GNU long name of {size} bytes (1 to {} accepted)", MAX_LONG_NAME + 1),
            ));
        }
        let mut expected = tar::Header::new_gnu();
        expected.as_old_mut().name[..LONG_LINK.len()].copy_from_slice(LONG_LINK);
        expected.set_mode(0o644);
        expected.set_uid(0);
        expected.set_gid(0);
        expected.set_mtime(0);
        expected.set_size(size);
        expected.set_entry_type(tar::EntryType::GNULongName);
        expected.set_cksum();
        compare(block, &expected).map_err(|what| self.non_canonical(entry, what))?;
        let mut data = vec![0u8; size as usize];
        self.read_exact(&mut data, "a GNU long name")?;
        let padded = self.inner.count.next_multiple_of(BLOCK);
        let mut pad = vec![0u8; (padded - self.inner.count) as usize];
        self.read_exact(&mut pad, "the padding of a GNU long name")?;
        if pad.iter().any(|&b| b != 0) {
            return Err(self.non_canonical(entry, "non-zero bytes pad its data".into()));
        }
        let name = &data[..data.len() - 1];
        let shown = String::from_utf8_lossy(name).into_owned();
        if data.last() != Some(&0) || name.contains(&0) {
            return Err(self.non_canonical(
                &shown,
                "a GNU long name that is not one NUL-terminated string".into(),
            ));
        }
        String::from_utf8(name.to_vec()).map_err(|_| EvidenceError::UnsafePath {
            bundle: self.bundle.to_owned(),
            entry: shown,
            reason: "not UTF-8",
        })
    }

    /// Checks a (non long-name) header: type, path, directory size, canonical form.
    fn entry(
        &self,
        block: &[u8; 512],
        long_name: Option<&str>,
        start: u64,
    ) -> Result<Entry, EvidenceError> {
        checksum(block).map_err(|m| self.corrupt(format!("{m} at offset {start}")))?;
        let header = tar::Header::from_byte_slice(block);
        let field = until_nul(&block[..100]);
        let raw_name = match long_name {
            Some(name) => name.as_bytes(),
            None => field,
        };
        let name = String::from_utf8_lossy(raw_name).into_owned();
        let b = || self.bundle.to_owned();
        let kind = block[156];
        let is_dir = match kind {
            b'0' => false,
            b'5' => true,
            b'2' | b'1' => {
                let target = String::from_utf8_lossy(until_nul(&block[157..257])).into_owned();
                return Err(if kind == b'2' {
                    EvidenceError::Symlink { bundle: b(), entry: name, target }
                } else {
                    EvidenceError::Hardlink { bundle: b(), entry: name, target }
                });
            }
            other => {
                return Err(EvidenceError::SpecialFile {
                    bundle: b(),
                    entry: name,
                    kind: kind_name(other),
                });
            }
        };
        let path = check_path(self.bundle, raw_name, is_dir)?;
        let size =
            header.entry_size().map_err(|e| self.non_canonical(&name, format!("size: {e}")))?;
        if is_dir && size != 0 {
            return Err(EvidenceError::DirectoryData { bundle: b(), entry: name, size });
        }
        let mtime = header.mtime().map_err(|e| self.non_canonical(&name, format!("mtime: {e}")))?;
        let (entry_type, mode) = if is_dir {
            (tar::EntryType::Directory, 0o755)
        } else {
            (tar::EntryType::Regular, 0o644)
        };
        let mut expected = archive::header(entry_type, size, mode, mtime);
        match long_name {
            // Extractors take the long name; the header's own is its first bytes.
            Some(long) => {
                if !long.as_bytes().starts_with(field) {
                    return Err(self.non_canonical(
                        &name,
                        format!(
                            "the header's name {:?} is not the start of its GNU long name",
                            String::from_utf8_lossy(field)
                        ),
                    ));
                }
                expected.as_old_mut().name[..field.len()].copy_from_slice(field);
            }
            None => expected.as_old_mut().name[..field.len()].copy_from_slice(field),
        }
        expected.set_cksum();
        compare(block, &expected).map_err(|what| self.non_canonical(&name, what))?;
        Ok(Entry { path, is_dir, size })
    }

    /// The current entry's data (exactly its declared size; an error if the stream ends
    /// first). Call once per entry, after [`TarReader::next`].
    pub(crate) fn data(&mut self) -> Data<'_, R> {
        let remaining = self.data_end.saturating_sub(self.inner.count);
        Data { inner: &mut self.inner, remaining }
    }

    /// After [`TarReader::next`] returned `None`: checks what follows the end-of-archive
    /// marker (zeros, completing the marker's 10240-byte record at most, to the end of the
    /// stream) and returns the underlying reader, at the end of the tar stream.
    pub(crate) fn finish(mut self) -> Result<R, EvidenceError> {
        let Some(marker) = self.end else {
            return Err(self.corrupt("the archive was not read to its end-of-archive marker"));
        };
        let allowed = (marker + 2 * BLOCK).next_multiple_of(RECORD) - marker;
        // The marker's first block is read; read at most one byte more than is allowed.
        let mut rest = (&mut self.inner).take(allowed - BLOCK + 1);
        let mut buf = vec![0u8; 64 * 1024];
        let mut zeros = BLOCK;
        loop {
            let n = match rest.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.corrupt(e)),
            };
            if n == 0 {
                break;
            }
            if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
                let at = marker + zeros + i as u64;
                return Err(self.corrupt(format!(
                    "data after the end of the tar archive (offset {at}, {} bytes after the \
                     end-of-archive marker's start)",
                    at - marker
                )));
            }
            zeros += n as u64;
        }
        if zeros > allowed {
            return Err(self.corrupt(format!(
                "more than {allowed} bytes of zero padding after the end of the tar archive (the \
                 end-of-archive marker and zeros up to its {RECORD}-byte record are accepted)"
            )));
        }
        if zeros < 2 * BLOCK {
            return Err(self.corrupt(format!(
                "incomplete end-of-archive marker ({zeros} zero bytes, two 512-byte blocks expected)"
            )));
        }
        if !zeros.is_multiple_of(BLOCK) {
            return Err(self.corrupt(format!(
                "the tar stream ends inside a block ({zeros} zero bytes after the last entry)"
            )));
        }
        Ok(self.inner.inner)
    }
}

/// The bytes of `field` before its first NUL.
fn until_nul(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Checks a header block's checksum (the unsigned sum of its bytes, the checksum field
/// counted as spaces).
fn checksum(block: &[u8; 512]) -> Result<(), String> {
    let stored = tar::Header::from_byte_slice(block)
        .cksum()
        .map_err(|_| "a tar header with an unreadable checksum".to_owned())?;
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| if (148..156).contains(&i) { u32::from(b' ') } else { u32::from(b) })
        .sum();
    if stored != sum {
        return Err(format!("a tar header whose checksum is {stored}, not {sum}"));
    }
    Ok(())
}

/// The header fields, by byte range (GNU layout); the checksum last, as it follows from the
/// others (it was checked to be their sum before).
const FIELDS: [(&str, usize, usize); 16] = [
    ("name", 0, 100),
    ("mode", 100, 108),
    ("uid", 108, 116),
    ("gid", 116, 124),
    ("size", 124, 136),
    ("mtime", 136, 148),
    ("type", 156, 157),
    ("link name", 157, 257),
    ("magic", 257, 263),
    ("version", 263, 265),
    ("user name", 265, 297),
    ("group name", 297, 329),
    ("device major", 329, 337),
    ("device minor", 337, 345),
    ("GNU extension area (ustar prefix)", 345, 512),
    ("checksum", 148, 156),
];

/// Compares a header block with the canonical one; names the first field that differs.
fn compare(block: &[u8; 512], expected: &tar::Header) -> Result<(), String> {
    let expected = expected.as_bytes();
    debug_assert_eq!(&expected[257..265], GNU_MAGIC);
    for (name, from, to) in FIELDS {
        if block[from..to] != expected[from..to] {
            return Err(format!(
                "its tar header's {name} field is {} where bundles write {}",
                show_field(&block[from..to]),
                show_field(&expected[from..to])
            ));
        }
    }
    Ok(())
}

/// A header field for a message: its text when printable, else its bytes in hex.
fn show_field(field: &[u8]) -> String {
    let end = field.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let text = &field[..end];
    if text.iter().all(|&b| b.is_ascii_graphic() || b == b' ') && !text.is_empty() {
        format!("{:?}", String::from_utf8_lossy(text))
    } else if text.is_empty() {
        "empty".to_owned()
    } else {
        let bytes: Vec<String> = text.iter().map(|b| format!("{b:02x}")).collect();
        format!("bytes {}", bytes.join(" "))
    }
}

/// What a tar entry type is, for messages.
fn kind_name(kind: u8) -> String {
    match kind {
        b'3' => "character device".to_owned(),
        b'4' => "block device".to_owned(),
        b'6' => "FIFO".to_owned(),
        b'7' => "contiguous file (tar type '7')".to_owned(),
        b'x' | b'X' => "pax extended header (tar type 'x')".to_owned(),
        b'g' => "pax global header (tar type 'g')".to_owned(),
        b'K' => "GNU long link name (tar type 'K')".to_owned(),
        b'L' => "second GNU long name (tar type 'L')".to_owned(),
        b'S' => "GNU sparse file (tar type 'S')".to_owned(),
        b'D' => "GNU dump directory (tar type 'D')".to_owned(),
        b'M' => "GNU multi-volume continuation (tar type 'M')".to_owned(),
        b'V' => "GNU volume label (tar type 'V')".to_owned(),
        0 => "pre-POSIX regular file (tar type NUL)".to_owned(),
        other if other.is_ascii_graphic() => {
            format!("special entry (tar type '{}')", other as char)
        }
        other => format!("special entry (tar type byte {other:#04x})"),
    }
}

/// Checks an entry's name; returns the path without a directory's trailing `/`.
fn check_path(bundle: &Path, raw: &[u8], is_dir: bool) -> Result<String, EvidenceError> {
    let name = String::from_utf8_lossy(raw).into_owned();
    let b = || bundle.to_owned();
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(EvidenceError::UnsafePath { bundle: b(), entry: name, reason: "not UTF-8" });
    };
    if text.starts_with('/') {
        return Err(EvidenceError::AbsolutePath { bundle: b(), entry: name });
    }
    let trimmed = if is_dir {
        match text.strip_suffix('/') {
            Some(t) => t,
            None => {
                return Err(EvidenceError::UnsafePath {
                    bundle: b(),
                    entry: name,
                    reason: "a directory's name must end with '/'",
                });
            }
        }
    } else {
        text
    };
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
    Ok(trimmed.to_owned())
}
