//! Size, SHA-256 and SHA-512 of a stream, the two digests computed on two threads.
//!
//! The calling thread reads the stream in large chunks ([`CHUNK`]) and computes SHA-256 and the
//! byte count as it reads; a helper thread computes SHA-512 of the same chunks, fed through a
//! bounded channel. Chunk buffers go back to the reader once hashed, so memory stays at most
//! `BUFFERS` chunks whatever the size of the stream, and nothing is allocated per file. One
//! [`Hasher`] hashes any number of streams one after the other (the helper thread lives as long
//! as the hasher), so bundles of many small files do not pay a thread per file.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use sha2::{Digest as _, Sha256, Sha512};

/// The read size: large reads keep decompressors and the page cache out of the profile.
pub(crate) const CHUNK: usize = 1 << 20;
/// Chunk buffers in flight at most (being read, queued, or being hashed by the helper).
const BUFFERS: usize = 4;

/// What the reading thread sends the SHA-512 thread.
enum Job {
    /// The first `len` bytes of the buffer belong to the current stream.
    Chunk(Vec<u8>, usize),
    /// The current stream is complete: send its SHA-512 and start a new one.
    End,
}

/// Streams' size, SHA-256 and SHA-512 (lowercase hex), SHA-512 on a helper thread.
pub(crate) struct Hasher {
    jobs: Option<SyncSender<Job>>,
    recycled: Receiver<Vec<u8>>,
    digests: Receiver<String>,
    worker: Option<JoinHandle<()>>,
    /// A buffer kept by the reading thread (the last read was empty or failed).
    spare: Option<Vec<u8>>,
    /// Buffers allocated so far (at most `BUFFERS`).
    allocated: usize,
}

fn stopped() -> io::Error {
    io::Error::other("the SHA-512 thread stopped")
}

impl Hasher {
    /// Starts the SHA-512 thread; fails only when the thread cannot be spawned.
    pub(crate) fn new() -> io::Result<Self> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(BUFFERS);
        let (recycle_tx, recycled) = mpsc::channel::<Vec<u8>>();
        let (digest_tx, digests) = mpsc::channel::<String>();
        let worker =
            std::thread::Builder::new().name("tollgate-sha512".into()).spawn(move || {
                let mut sha512 = Sha512::new();
                for job in job_rx {
                    match job {
                        Job::Chunk(buf, len) => {
                            sha512.update(&buf[..len]);
                            // The reader may be gone (dropped mid-stream); the buffer is then freed.
                            let _ = recycle_tx.send(buf);
                        }
                        Job::End => {
                            if digest_tx.send(hex::encode(sha512.finalize_reset())).is_err() {
                                return;
                            }
                        }
                    }
                }
            })?;
        Ok(Hasher {
            jobs: Some(jobs),
            recycled,
            digests,
            worker: Some(worker),
            spare: None,
            allocated: 0,
        })
    }

    /// Reads `reader` to its end and returns (size, SHA-256, SHA-512). After an error (from
    /// `reader`) the hasher is ready for the next stream; the partial digests are discarded.
    pub(crate) fn hash(&mut self, reader: &mut impl Read) -> io::Result<(u64, String, String)> {
        let mut sha256 = Sha256::new();
        let mut size = 0u64;
        let fed = self.feed(reader, &mut sha256, &mut size);
        // Always end the stream, so that the helper's state starts afresh for the next one.
        self.send(Job::End)?;
        let sha512 = self.digests.recv().map_err(|_| stopped())?;
        fed?;
        Ok((size, hex::encode(sha256.finalize()), sha512))
    }

    fn feed(
        &mut self,
        reader: &mut impl Read,
        sha256: &mut Sha256,
        size: &mut u64,
    ) -> io::Result<()> {
        loop {
            let mut buf = self.buffer()?;
            let len = match fill(reader, &mut buf) {
                Ok(len) => len,
                Err(e) => {
                    self.spare = Some(buf);
                    return Err(e);
                }
            };
            if len == 0 {
                self.spare = Some(buf);
                return Ok(());
            }
            sha256.update(&buf[..len]);
            *size += len as u64;
            self.send(Job::Chunk(buf, len))?;
            if len < CHUNK {
                // `fill` stops short only at the end of the stream.
                return Ok(());
            }
        }
    }

    /// A free buffer: the spare one, one the helper is done with, a new one while fewer than
    /// `BUFFERS` exist, else the next one the helper finishes.
    fn buffer(&mut self) -> io::Result<Vec<u8>> {
        if let Some(buf) = self.spare.take() {
            return Ok(buf);
        }
        if let Ok(buf) = self.recycled.try_recv() {
            return Ok(buf);
        }
        if self.allocated < BUFFERS {
            self.allocated += 1;
            return Ok(vec![0; CHUNK]);
        }
        self.recycled.recv().map_err(|_| stopped())
    }

    fn send(&self, job: Job) -> io::Result<()> {
        self.jobs.as_ref().ok_or_else(stopped)?.send(job).map_err(|_| stopped())
    }
}

impl Drop for Hasher {
    /// Closes the channel and waits for the helper thread, so no thread outlives the hasher.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// Reads until `buf` is full or `reader` is at its end; returns the bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    while len < buf.len() {
        match reader.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// SHA-256 of everything written through it, passed on to the inner writer.
pub(crate) struct Sha256Writer<W> {
    inner: W,
    sha256: Sha256,
}

impl<W: io::Write> Sha256Writer<W> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: W) -> Self {
        Sha256Writer { inner, sha256: Sha256::new() }
    }

    /// Lowercase hex SHA-256 of the bytes the inner writer accepted.
    pub(crate) fn finish(self) -> String {
        hex::encode(self.sha256.finalize())
    }
}

impl<W: io::Write> io::Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn reference(bytes: &[u8]) -> (u64, String, String) {
        (bytes.len() as u64, hex::encode(Sha256::digest(bytes)), hex::encode(Sha512::digest(bytes)))
    }

    /// Lengths around the chunk boundary and empty streams, one hasher for all of them (the
    /// helper's state must restart for each stream), compared with one-shot digests.
    #[test]
    fn matches_one_shot_digests_across_chunk_boundaries() {
        let mut hasher = Hasher::new().unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, 0, 5, 6 * CHUNK] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            // A reader that returns short reads, as decompressors do.
            let mut reader = Trickle { data: &bytes, step: 1000 };
            assert_eq!(hasher.hash(&mut reader).unwrap(), reference(&bytes), "length {len}");
        }
        assert!(hasher.allocated <= BUFFERS);
    }

    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(self.step).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    struct Failing {
        left: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = self.left.min(buf.len());
            buf[..n].fill(7);
            self.left -= n;
            Ok(n)
        }
    }

    /// A read error mid-stream is returned, and the next stream's digests are unaffected by
    /// the bytes hashed before the error.
    #[test]
    fn read_error_is_returned_and_the_next_stream_starts_afresh() {
        let mut hasher = Hasher::new().unwrap();
        let err = hasher.hash(&mut Failing { left: 2 * CHUNK + 5 }).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        let bytes = b"after the failure".to_vec();
        assert_eq!(hasher.hash(&mut bytes.as_slice()).unwrap(), reference(&bytes));
    }

    /// A bundle with files of several chunks, through `build` and `verify`: every manifest
    /// digest equals a one-shot digest of the file, `archive_sha256` (taken while writing)
    /// equals the SHA-256 of the archive on disk, and a changed byte deep in a multi-chunk file
    /// is found by `verify`.
    #[test]
    fn build_and_verify_hash_multi_chunk_files() {
        use tollgate_attest::keys::{KeyAlgorithm, SigningKey};
        let run = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (name, len) in [("a.bin", 0usize), ("big.bin", 3 * CHUNK + 123), ("c.log", CHUNK)] {
            let bytes: Vec<u8> = (0..len).map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8).collect();
            std::fs::write(run.path().join(name), &bytes).unwrap();
            files.push((name, bytes));
        }
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let out = tempfile::tempdir().unwrap();
        for name in ["b.tar.gz", "b.tar.zst"] {
            let bundle = out.path().join(name);
            let built = crate::build(run.path(), &key, &bundle, "0.1.0").unwrap();
            let on_disk = std::fs::read(&bundle).unwrap();
            assert_eq!(built.archive_sha256, hex::encode(Sha256::digest(&on_disk)), "{name}");
            for (path, bytes) in &files {
                let entry = built.manifest.files.iter().find(|f| f.path == *path).unwrap();
                let (size, sha256, sha512) = reference(bytes);
                assert_eq!((entry.size, &entry.sha256, &entry.sha512), (size, &sha256, &sha512));
            }
            crate::verify(&bundle, &key.verifying_key()).unwrap();
        }
        // The same bundle with one byte changed in big.bin's third chunk (same size, signed
        // manifest untouched): only the content digests can find it.
        let bundle = out.path().join("b.tar.zst");
        let open = || zstd::Decoder::new(std::fs::File::open(&bundle).unwrap()).unwrap();
        let mut archive = tar::Archive::new(open());
        let mut changed = tar::Builder::new(Vec::new());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            if entry.path().unwrap().to_str() == Some("big.bin") {
                data[2 * CHUNK + 7] ^= 1;
            }
            changed.append(&header, data.as_slice()).unwrap();
        }
        let tar_bytes = changed.into_inner().unwrap();
        let tampered = out.path().join("t.tar.zst");
        std::fs::write(&tampered, zstd::encode_all(tar_bytes.as_slice(), 3).unwrap()).unwrap();
        let err = crate::verify(&tampered, &key.verifying_key()).unwrap_err();
        assert!(
            matches!(
                &err,
                crate::EvidenceError::DigestMismatch { entry, algorithm: "sha256", .. }
                    if entry == "big.bin"
            ),
            "{err}"
        );
    }

    /// The gzip layer's bytes depend only on the tar stream, not on how it is split into
    /// writes (which follows read sizes, and may differ between file systems). miniz_oxide
    /// holds this; flate2's zlib-rs backend does not (measured: five write sizes, five
    /// outputs), so enabling it anywhere in the workspace (features unify) would make `.tar.gz`
    /// bundles irreproducible: this test fails first.
    #[test]
    fn gzip_bytes_do_not_depend_on_write_sizes() {
        let mut state = 7u64;
        let data: Vec<u8> = (0..600_000u32)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                // Half text-like (compressible), half noise.
                if (i / 4096) % 2 == 0 {
                    b"evidence "[(i % 9) as usize]
                } else {
                    (state >> 56) as u8
                }
            })
            .collect();
        let gzip = |chunk: usize| {
            let mut c = crate::archive::Compressor::new(crate::Format::TarGz, Vec::new()).unwrap();
            for part in data.chunks(chunk) {
                io::Write::write_all(&mut c, part).unwrap();
            }
            c.finish().unwrap()
        };
        let whole = gzip(data.len());
        for chunk in [512, 1000, 8192, CHUNK] {
            assert!(gzip(chunk) == whole, "write size {chunk} changed the gzip bytes");
        }
    }

    #[test]
    fn sha256_writer_digests_what_it_writes() {
        let mut writer = Sha256Writer::new(Vec::new());
        writer.write_all(b"hello ").unwrap();
        writer.write_all(b"world").unwrap();
        writer.flush().unwrap();
        assert_eq!(writer.finish(), hex::encode(Sha256::digest(b"hello world")));
    }
}
