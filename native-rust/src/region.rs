//! Payload regions: files in shared memory that carry payloads beside the Aeron messages that
//! refer to them (docs/protocol.md, issue 14). One process owns a region and writes payloads
//! into it; others map it read-only.
//!
//! - [`Header`]: the 4096-byte header every region file starts with, and its validation;
//! - [`Blocks`]: the owner's first-fit allocator of 4096-byte blocks;
//! - [`ResponseRegion`]: the worker's own region (owner side), created at the first loan;
//! - [`RequestRegions`]: the callers' regions this worker reads requests from (reader side),
//!   mapped read-only and cached by region id.
//!
//! The file: `<aeron dir>/polybridge-payloads-<region id as 16 hex digits>`, mode 0600,
//! `4096 + data length` bytes. A region id is `pid << 32 | nonce` ([`new_region_id`]).
//!
//! `unsafe` lives in [`Mapping`] only (mmap, munmap, and writing into a loan), each block with
//! its safety argument.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use thiserror::Error;

/// The first 8 bytes of every region file.
pub const MAGIC: &[u8; 8] = b"PBREGION";
pub const VERSION: i32 = 1;
/// Length of the header; the data area follows it.
pub const HEADER_LENGTH: usize = 4096;
/// Loans are whole blocks of this size, at offsets that are multiples of it.
pub const BLOCK_SIZE: usize = 4096;
/// The largest data area a reader maps.
pub const MAX_DATA_LENGTH: u64 = 1 << 30;
/// File name prefix; the region id follows in 16 lowercase hex digits.
pub const FILE_PREFIX: &str = "polybridge-payloads-";
/// How often mappings whose file is gone are looked for.
pub const EVICT_INTERVAL: Duration = Duration::from_secs(1);

/// Where the region `region_id` lies in `aeron_dir`.
pub fn path(aeron_dir: impl AsRef<Path>, region_id: i64) -> PathBuf {
    // The id's bits, as the other languages print them (`%016x` of the int64).
    aeron_dir.as_ref().join(format!("{FILE_PREFIX}{:016x}", region_id as u64))
}

/// A new region id for this process: `pid << 32 | nonce`, the nonce random and non-zero.
pub fn new_region_id() -> i64 {
    let pid = u64::from(std::process::id());
    let nonce = loop {
        // RandomState's keys come from the operating system's random source.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(pid);
        let nonce = hasher.finish() as u32;
        if nonce != 0 {
            break nonce;
        }
    };
    ((pid << 32) | u64::from(nonce)) as i64
}

/// Why a region could not be created, mapped or read, or a reference into it was refused.
/// The messages name the file and the numbers, as the BAD_REQUEST answers quote them.
#[derive(Debug, Error)]
pub enum RegionError {
    #[error("payload region file {path} cannot be opened: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("payload region file {path} is {size} bytes: not a region (4096 to 4096 + 1 GiB bytes)")]
    Size { path: PathBuf, size: u64 },
    #[error("payload region file {path} has no PBREGION magic")]
    BadMagic { path: PathBuf },
    #[error("payload region file {path} has version {found}, not {VERSION}")]
    BadVersion { path: PathBuf, found: i32 },
    #[error("payload region file {path} has a header length of {found}, not {HEADER_LENGTH}")]
    BadHeaderLength { path: PathBuf, found: i32 },
    #[error("payload region file {path} holds region {found:#018x}, not {expected:#018x}")]
    WrongRegionId { path: PathBuf, found: i64, expected: i64 },
    #[error("payload region file {path} says its data is {found} bytes; the file has {expected}")]
    WrongDataLength { path: PathBuf, found: i64, expected: u64 },
    #[error("region reference [{offset}, {offset}+{length}) lies outside the data area of {data_length} bytes of {path}")]
    OutOfBounds { path: PathBuf, offset: i64, length: i64, data_length: u64 },
    #[error("cannot map payload region file {path}: {source}")]
    Map { path: PathBuf, source: io::Error },
    #[error(
        "cannot create payload region file {path}: its filesystem has {free} bytes free, the region needs {needed} \
         (lower --payload-region-mib, or free shared memory)"
    )]
    NoSpace { path: PathBuf, free: u64, needed: u64 },
    #[error("cannot create payload region file {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
}

/// The fields of a region header besides the constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub region_id: i64,
    pub owner_pid: i64,
    pub data_length: i64,
}

impl Header {
    /// The header's first 40 bytes (the rest of its 4096 are zero).
    pub fn encode(&self) -> [u8; 40] {
        let mut bytes = [0u8; 40];
        bytes[..8].copy_from_slice(MAGIC);
        bytes[8..12].copy_from_slice(&VERSION.to_le_bytes());
        bytes[12..16].copy_from_slice(&(HEADER_LENGTH as i32).to_le_bytes());
        bytes[16..24].copy_from_slice(&self.region_id.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.owner_pid.to_le_bytes());
        bytes[32..40].copy_from_slice(&self.data_length.to_le_bytes());
        bytes
    }

    /// Checks `bytes`, the start of the file `path` of `file_size` bytes expected to hold
    /// region `region_id`.
    pub fn validate(bytes: &[u8], path: &Path, region_id: i64, file_size: u64) -> Result<Self, RegionError> {
        let path = || path.to_path_buf();
        if file_size < HEADER_LENGTH as u64 || file_size > HEADER_LENGTH as u64 + MAX_DATA_LENGTH || bytes.len() < 40 {
            return Err(RegionError::Size { path: path(), size: file_size });
        }
        let i32_at = |at: usize| i32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let i64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            i64::from_le_bytes(b)
        };
        if &bytes[..8] != MAGIC {
            return Err(RegionError::BadMagic { path: path() });
        }
        if i32_at(8) != VERSION {
            return Err(RegionError::BadVersion { path: path(), found: i32_at(8) });
        }
        if i32_at(12) != HEADER_LENGTH as i32 {
            return Err(RegionError::BadHeaderLength { path: path(), found: i32_at(12) });
        }
        let header = Self { region_id: i64_at(16), owner_pid: i64_at(24), data_length: i64_at(32) };
        if header.region_id != region_id {
            return Err(RegionError::WrongRegionId { path: path(), found: header.region_id, expected: region_id });
        }
        let expected = file_size - HEADER_LENGTH as u64;
        if u64::try_from(header.data_length).ok() != Some(expected) {
            return Err(RegionError::WrongDataLength { path: path(), found: header.data_length, expected });
        }
        Ok(header)
    }
}

/// Whether `[offset, offset + length)` lies in a data area of `data_length` bytes; the range
/// as `usize`s when it does.
pub fn check_bounds(offset: i64, length: i64, data_length: u64) -> Option<(usize, usize)> {
    let (offset, length) = (u64::try_from(offset).ok()?, u64::try_from(length).ok()?);
    if offset > data_length.checked_sub(length)? {
        return None;
    }
    Some((usize::try_from(offset).ok()?, usize::try_from(length).ok()?))
}

/// A whole file mapped shared: read-only for readers, read-write for the owner.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by this value until drop; readers only read it,
// and the owner writes only into loans, which the allocator gives to one writer at a time.
#[allow(unsafe_code)]
unsafe impl Send for Mapping {}
// SAFETY: as for Send: shared references only read, or write disjoint loans (see `write`).
#[allow(unsafe_code)]
unsafe impl Sync for Mapping {}

impl Mapping {
    #[allow(unsafe_code)]
    fn map(file: &File, len: usize, writable: bool) -> io::Result<Self> {
        let protection = if writable { libc::PROT_READ | libc::PROT_WRITE } else { libc::PROT_READ };
        // SAFETY: a fresh mapping chosen by the kernel (null hint) of an open file; nothing else
        // in this process refers to that address range until we return it.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, protection, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { ptr: ptr.cast(), len })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: ptr..ptr+len is mapped (PROT_READ at least) for as long as self lives. Another
        // process may write the bytes meanwhile (the region's owner): a handler then reads
        // changing bytes, never memory outside the mapping. The file is never truncated by its
        // owner while mapped (it is unlinked, which keeps the pages).
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.ptr, self.len)
        }
    }

    /// The bytes at `[at, at + length)`: the caller holds them exclusively (a loan not yet
    /// published), or the mapping is read-only.
    fn slice(&self, at: usize, length: usize) -> &[u8] {
        assert!(at.checked_add(length).is_some_and(|end| end <= self.len), "read past the mapping");
        // SAFETY: the range is inside the mapping (asserted), which lives as long as self, and no
        // other thread writes it: the caller holds the loan, which the allocator gave it alone.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.ptr.add(at), length)
        }
    }

    /// Copies `bytes` to `at` in the mapping.
    ///
    /// The caller holds the range `[at, at + bytes.len())` exclusively: a loan of the owner's
    /// allocator, or the header before the region is lent from.
    fn write(&self, at: usize, bytes: &[u8]) {
        assert!(at.checked_add(bytes.len()).is_some_and(|end| end <= self.len), "write past the mapping");
        // SAFETY: the range is inside the writable mapping (asserted), and no other thread writes
        // or reads it now: the allocator lends each block to one loan at a time, and the loan is
        // published to a reader only after this copy.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr.add(at), bytes.len());
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len came from one successful mmap, and every slice handed out borrows self.
        #[allow(unsafe_code)]
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

/// Free bytes for unprivileged users on the filesystem of `dir` (statvfs).
fn free_space(dir: &Path) -> io::Result<u64> {
    let dir = CString::new(dir.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: dir is a NUL-terminated string and stat points to writable memory of the right type.
    #[allow(unsafe_code)]
    let result = unsafe { libc::statvfs(dir.as_ptr(), stat.as_mut_ptr()) };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs succeeded, so it filled the struct.
    #[allow(unsafe_code)]
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)]
    Ok((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// First-fit allocator of [`BLOCK_SIZE`] blocks over a data area: a sorted list of free
/// extents, coalesced on release.
#[derive(Debug, Clone)]
pub struct Blocks {
    /// (offset, length) in bytes, sorted, never touching each other.
    free: Vec<(usize, usize)>,
    size: usize,
    lent: usize,
}

impl Blocks {
    /// A data area of `size` bytes (rounded down to whole blocks), all free.
    pub fn new(size: usize) -> Self {
        let size = size / BLOCK_SIZE * BLOCK_SIZE;
        Self { free: if size > 0 { vec![(0, size)] } else { Vec::new() }, size, lent: 0 }
    }

    /// Bytes of whole blocks for a loan of `length` bytes (at least one block).
    pub fn rounded(length: usize) -> usize {
        length.max(1).div_ceil(BLOCK_SIZE) * BLOCK_SIZE
    }

    /// The lowest offset with `length` bytes free (rounded up to blocks), now lent.
    pub fn allocate(&mut self, length: usize) -> Option<usize> {
        let needed = Self::rounded(length);
        let index = self.free.iter().position(|&(_, free)| free >= needed)?;
        let (offset, free) = self.free[index];
        if free == needed {
            self.free.remove(index);
        } else {
            self.free[index] = (offset + needed, free - needed);
        }
        self.lent += needed;
        Some(offset)
    }

    /// Gives back the loan of `length` bytes at `offset`, merging it with free neighbours.
    pub fn release(&mut self, offset: usize, length: usize) {
        let length = Self::rounded(length);
        let index = self.free.partition_point(|&(free_offset, _)| free_offset < offset);
        self.free.insert(index, (offset, length));
        if index + 1 < self.free.len() && offset + length == self.free[index + 1].0 {
            self.free[index].1 += self.free[index + 1].1;
            self.free.remove(index + 1);
        }
        if index > 0 && self.free[index - 1].0 + self.free[index - 1].1 == offset {
            self.free[index - 1].1 += self.free[index].1;
            self.free.remove(index);
        }
        self.lent -= length;
    }

    /// Bytes lent now (whole blocks).
    pub fn lent(&self) -> usize {
        self.lent
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// The free extents, lowest first (for tests).
    pub fn free_extents(&self) -> &[(usize, usize)] {
        &self.free
    }
}

/// What identifies a lent response: the `PayloadRelease` that gives it back names all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoanKey {
    pub correlation_id: i64,
    pub reply_stream_id: i32,
    pub offset: i64,
}

/// Why a response could not be lent.
#[derive(Debug, Error)]
pub enum LendError {
    #[error("the worker's payload region is full ({lent} of {size} bytes lent)")]
    Full { lent: usize, size: usize },
    #[error("the worker's payload region is closed: the worker is stopping")]
    Closed,
    #[error(transparent)]
    Region(#[from] RegionError),
}

struct Owned {
    /// Set by [`ResponseRegion::close`]: nothing is lent any more.
    closed: bool,
    blocks: Blocks,
    /// Loans handed out, by key: their length.
    loans: HashMap<LoanKey, usize>,
}

/// The worker's response region, the owner side. The file is created at the first loan and
/// unlinked when the region is dropped. Thread-safe: pool threads lend, the poll thread
/// releases.
pub struct ResponseRegion {
    id: i64,
    path: PathBuf,
    data_length: usize,
    /// The file's mapping, once created (at the first loan).
    mapping: OnceLock<Mapping>,
    state: Mutex<Owned>,
    loaned: AtomicU64,
    released: AtomicU64,
    bad_releases: AtomicU64,
    full: AtomicU64,
}

/// Counts of a response region, for the worker's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LendCounts {
    pub loaned_responses: u64,
    pub loan_releases: u64,
    pub bad_releases: u64,
    pub region_full: u64,
}

impl ResponseRegion {
    /// A region of `data_length` bytes in `aeron_dir`; no file yet.
    pub fn new(aeron_dir: impl AsRef<Path>, region_id: i64, data_length: usize) -> Self {
        Self {
            id: region_id,
            path: path(aeron_dir, region_id),
            data_length,
            mapping: OnceLock::new(),
            state: Mutex::new(Owned { closed: false, blocks: Blocks::new(data_length), loans: HashMap::new() }),
            loaned: AtomicU64::new(0),
            released: AtomicU64::new(0),
            bad_releases: AtomicU64::new(0),
            full: AtomicU64::new(0),
        }
    }

    pub fn id(&self) -> i64 {
        self.id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size of the data area.
    pub fn size(&self) -> usize {
        self.data_length
    }

    /// Bytes lent now.
    pub fn lent_bytes(&self) -> usize {
        self.lock().blocks.lent()
    }

    /// Loans not yet released.
    pub fn loans(&self) -> usize {
        self.lock().loans.len()
    }

    pub fn counts(&self) -> LendCounts {
        LendCounts {
            loaned_responses: self.loaned.load(Ordering::Relaxed),
            loan_releases: self.released.load(Ordering::Relaxed),
            bad_releases: self.bad_releases.load(Ordering::Relaxed),
            region_full: self.full.load(Ordering::Relaxed),
        }
    }

    /// Counts a response that could not be lent (region full or not created); returns the
    /// count so far.
    pub fn count_full(&self) -> u64 {
        self.full.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn lock(&self) -> MutexGuard<'_, Owned> {
        // A panic while holding the lock leaves the allocator consistent (no step panics halfway).
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Copies `bytes` into a new loan for the response to (`correlation_id`, `reply_stream_id`);
    /// returns its offset in the data area. The loan is held until [`ResponseRegion::release`].
    pub fn lend(&self, correlation_id: i64, reply_stream_id: i32, bytes: &[u8]) -> Result<usize, LendError> {
        let offset = {
            let mut state = self.lock();
            if state.closed {
                return Err(LendError::Closed);
            }
            if self.mapping.get().is_none() {
                // Under the lock: one creation, even when several pool threads lend at once.
                let created = self.create()?;
                let _ = self.mapping.set(created);
            }
            let size = state.blocks.size();
            state.blocks.allocate(bytes.len()).ok_or(LendError::Full { lent: state.blocks.lent(), size })?
        };
        // The copy runs without the lock: the blocks are this loan's alone, and no release can
        // match them until the key is recorded below.
        if let Some(mapping) = self.mapping.get() {
            mapping.write(HEADER_LENGTH + offset, bytes);
        }
        let key = LoanKey { correlation_id, reply_stream_id, offset: offset as i64 };
        let mut state = self.lock();
        if let Some(previous) = state.loans.insert(key, bytes.len()) {
            // Cannot happen (a lent offset is not lent twice), but never leak blocks.
            state.blocks.release(key.offset as usize, previous);
        }
        self.loaned.fetch_add(1, Ordering::Relaxed);
        Ok(offset)
    }

    /// The bytes of a loan this process holds and has not published (to move them elsewhere).
    pub(crate) fn loaned(&self, offset: usize, length: usize) -> &[u8] {
        self.mapping.get().map_or(&[], |mapping| mapping.slice(HEADER_LENGTH + offset, length))
    }

    /// Gives back a loan that was never published (its response went another way): not a
    /// release, and no longer counted as a lent response.
    pub(crate) fn take_back(&self, key: LoanKey) {
        let mut state = self.lock();
        if let Some(length) = state.loans.remove(&key) {
            state.blocks.release(key.offset as usize, length);
            self.loaned.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Frees the loan of a response that was dropped unpublished (nobody will release it).
    pub fn forget(&self, key: LoanKey) {
        let mut state = self.lock();
        if let Some(length) = state.loans.remove(&key) {
            state.blocks.release(key.offset as usize, length);
        }
    }

    /// Gives back the loan a `PayloadRelease` names; `false` (counted as a bad release) when
    /// no loan matches.
    pub fn release(&self, key: LoanKey) -> bool {
        let mut state = self.lock();
        match state.loans.remove(&key) {
            Some(length) => {
                state.blocks.release(key.offset as usize, length);
                self.released.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => {
                self.bad_releases.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Counts a release that named another region (or came to a worker that lends nothing).
    pub fn count_bad_release(&self) {
        self.bad_releases.fetch_add(1, Ordering::Relaxed);
    }

    /// Frees every loan to `reply_stream_id` on the worker's own channel (its caller is gone);
    /// returns how many.
    pub fn release_stream(&self, reply_stream_id: i32) -> usize {
        let mut state = self.lock();
        let keys: Vec<(LoanKey, usize)> =
            state.loans.iter().filter(|(key, _)| key.reply_stream_id == reply_stream_id).map(|(k, l)| (*k, *l)).collect();
        for (key, length) in &keys {
            state.loans.remove(key);
            state.blocks.release(key.offset as usize, *length);
        }
        keys.len()
    }

    /// Creates the file: free-space check, O_EXCL, 0600, size, mapping, header.
    fn create(&self) -> Result<Mapping, RegionError> {
        let length = HEADER_LENGTH as u64 + self.data_length as u64;
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        let create_error = |source| RegionError::Create { path: self.path.clone(), source };
        // tmpfs is sparse: touching pages past its free space is SIGBUS, so never skip this.
        let free = free_space(dir).map_err(create_error)?;
        if free < length {
            return Err(RegionError::NoSpace { path: self.path.clone(), free, needed: length });
        }
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_CLOEXEC)
                .open(&self.path)
        };
        let file = match open() {
            // A file of our own pid (the id's high half) is a leftover of an earlier process with
            // this pid: remove it and try once more.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&self.path).map_err(create_error)?;
                open()
            }
            other => other,
        }
        .map_err(create_error)?;
        let mapped = file.set_len(length).map_err(create_error).and_then(|()| {
            Mapping::map(&file, HEADER_LENGTH + self.data_length, true)
                .map_err(|source| RegionError::Map { path: self.path.clone(), source })
        });
        let mapping = match mapped {
            Ok(mapping) => mapping,
            Err(error) => {
                let _ = std::fs::remove_file(&self.path);
                return Err(error);
            }
        };
        let header = Header {
            region_id: self.id,
            owner_pid: i64::from(std::process::id()),
            data_length: self.data_length as i64,
        };
        mapping.write(0, &header.encode());
        log::info!("payload region {} created ({} bytes of data)", self.path.display(), self.data_length);
        Ok(mapping)
    }
}

impl ResponseRegion {
    /// Stops lending and unlinks the file (readers keep their mappings until they unmap).
    /// Also done on drop.
    pub fn close(&self) {
        let mut state = self.lock();
        if state.closed {
            return;
        }
        state.closed = true;
        if self.mapping.get().is_some() {
            if let Err(error) = std::fs::remove_file(&self.path) {
                log::warn!("cannot remove payload region file {}: {error}", self.path.display());
            }
        }
    }
}

impl Drop for ResponseRegion {
    fn drop(&mut self) {
        self.close();
    }
}

/// A caller's region, mapped read-only.
pub struct MappedRegion {
    mapping: Mapping,
    path: PathBuf,
    /// (device, inode) of the file mapped, to notice when it is replaced.
    file_id: (u64, u64),
}

impl MappedRegion {
    fn open(path: PathBuf, region_id: i64) -> Result<Self, RegionError> {
        let file = File::open(&path).map_err(|source| RegionError::Open { path: path.clone(), source })?;
        let metadata = file.metadata().map_err(|source| RegionError::Open { path: path.clone(), source })?;
        let size = metadata.len();
        if size < HEADER_LENGTH as u64 || size > HEADER_LENGTH as u64 + MAX_DATA_LENGTH {
            return Err(RegionError::Size { path, size });
        }
        let length = usize::try_from(size).map_err(|_| RegionError::Size { path: path.clone(), size })?;
        let mapping = Mapping::map(&file, length, false).map_err(|source| RegionError::Map { path: path.clone(), source })?;
        Header::validate(mapping.bytes(), &path, region_id, size)?;
        Ok(Self { mapping, path, file_id: (metadata.dev(), metadata.ino()) })
    }

    /// The data area.
    pub fn data(&self) -> &[u8] {
        &self.mapping.bytes()[HEADER_LENGTH..]
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file mapped is still at its path.
    fn still_there(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.file_id)
    }
}

/// A request's payload where it lies in its caller's region: keeps the mapping while held.
#[derive(Clone)]
pub struct RegionSlice {
    region: Arc<MappedRegion>,
    offset: usize,
    length: usize,
}

impl RegionSlice {
    pub fn bytes(&self) -> &[u8] {
        &self.region.data()[self.offset..self.offset + self.length]
    }
}

impl std::fmt::Debug for RegionSlice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegionSlice({}, {}+{})", self.region.path.display(), self.offset, self.length)
    }
}

/// The callers' regions this worker has mapped, by region id. A mapping is in hand while a
/// [`RegionSlice`] of it lives (its `Arc`'s count); one with none in hand whose file is gone is
/// unmapped by [`RequestRegions::evict_gone`].
pub struct RequestRegions {
    aeron_dir: PathBuf,
    mapped: HashMap<i64, Arc<MappedRegion>>,
    next_eviction: Instant,
}

impl RequestRegions {
    pub fn new(aeron_dir: impl Into<PathBuf>) -> Self {
        Self { aeron_dir: aeron_dir.into(), mapped: HashMap::new(), next_eviction: Instant::now() + EVICT_INTERVAL }
    }

    /// The payload at `[offset, offset + length)` of region `region_id`'s data area.
    pub fn resolve(&mut self, region_id: i64, offset: i64, length: i64) -> Result<RegionSlice, RegionError> {
        let region = match self.mapped.get(&region_id) {
            Some(region) => Arc::clone(region),
            None => {
                let region = Arc::new(MappedRegion::open(path(&self.aeron_dir, region_id), region_id)?);
                self.mapped.insert(region_id, Arc::clone(&region));
                region
            }
        };
        let data_length = region.data().len() as u64;
        let (offset, length) = check_bounds(offset, length, data_length).ok_or_else(|| RegionError::OutOfBounds {
            path: region.path.clone(),
            offset,
            length,
            data_length,
        })?;
        Ok(RegionSlice { region, offset, length })
    }

    /// Regions mapped now.
    pub fn mapped(&self) -> usize {
        self.mapped.len()
    }

    /// At most once per [`EVICT_INTERVAL`]: unmaps regions that no request has in hand and
    /// whose file is gone or replaced. Returns how many went.
    pub fn evict_gone(&mut self, now: Instant) -> usize {
        if now < self.next_eviction {
            return 0;
        }
        self.next_eviction = now + EVICT_INTERVAL;
        let before = self.mapped.len();
        // strong_count 1: only this map holds it, and only this thread makes new slices.
        self.mapped.retain(|_, region| Arc::strong_count(region) > 1 || region.still_there());
        before - self.mapped.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_lent_first_fit_and_coalesce_when_released() {
        let mut blocks = Blocks::new(10 * BLOCK_SIZE);
        let a = blocks.allocate(1).unwrap();
        let b = blocks.allocate(BLOCK_SIZE + 1).unwrap();
        let c = blocks.allocate(BLOCK_SIZE).unwrap();
        assert_eq!((a, b, c), (0, BLOCK_SIZE, 3 * BLOCK_SIZE));
        assert_eq!(blocks.lent(), 4 * BLOCK_SIZE);
        blocks.release(b, BLOCK_SIZE + 1);
        assert_eq!(blocks.allocate(BLOCK_SIZE).unwrap(), BLOCK_SIZE, "first fit from the lowest offset");
        blocks.release(BLOCK_SIZE, BLOCK_SIZE);
        blocks.release(a, 1);
        assert_eq!(blocks.free_extents(), &[(0, 3 * BLOCK_SIZE), (4 * BLOCK_SIZE, 6 * BLOCK_SIZE)]);
        blocks.release(c, BLOCK_SIZE);
        assert_eq!(blocks.free_extents(), &[(0, 10 * BLOCK_SIZE)], "all coalesced");
        assert_eq!(blocks.lent(), 0);
    }

    #[test]
    fn a_full_area_lends_nothing_until_a_release() {
        let mut blocks = Blocks::new(2 * BLOCK_SIZE);
        assert_eq!(blocks.allocate(2 * BLOCK_SIZE), Some(0));
        assert_eq!(blocks.allocate(1), None);
        blocks.release(0, 2 * BLOCK_SIZE);
        assert_eq!(blocks.allocate(2 * BLOCK_SIZE + 1), None, "larger than the area");
        assert_eq!(blocks.allocate(0), Some(0), "an empty payload still takes a block");
    }

    #[test]
    fn bounds_are_checked_without_overflow() {
        assert_eq!(check_bounds(0, 10, 10), Some((0, 10)));
        assert_eq!(check_bounds(10, 0, 10), Some((10, 0)));
        assert_eq!(check_bounds(1, 10, 10), None);
        assert_eq!(check_bounds(-1, 1, 10), None);
        assert_eq!(check_bounds(0, -1, 10), None);
        assert_eq!(check_bounds(i64::MAX, i64::MAX, 10), None);
        assert_eq!(check_bounds(0, 11, 10), None);
    }

    #[test]
    fn the_header_round_trips_and_every_field_is_validated() {
        let header = Header { region_id: 0x1234_0000_0001, owner_pid: 0x1234, data_length: 8192 };
        let mut bytes = vec![0u8; HEADER_LENGTH];
        bytes[..40].copy_from_slice(&header.encode());
        let path = Path::new("/dev/shm/x");
        let size = (HEADER_LENGTH + 8192) as u64;
        assert_eq!(Header::validate(&bytes, path, header.region_id, size).unwrap(), header);
        let broken = |at: usize, value: &[u8]| {
            let mut copy = bytes.clone();
            copy[at..at + value.len()].copy_from_slice(value);
            Header::validate(&copy, path, header.region_id, size).unwrap_err()
        };
        assert!(matches!(broken(0, b"PBREGIOX"), RegionError::BadMagic { .. }));
        assert!(matches!(broken(8, &2i32.to_le_bytes()), RegionError::BadVersion { found: 2, .. }));
        assert!(matches!(broken(12, &4095i32.to_le_bytes()), RegionError::BadHeaderLength { .. }));
        assert!(matches!(broken(16, &7i64.to_le_bytes()), RegionError::WrongRegionId { found: 7, .. }));
        assert!(matches!(broken(32, &4096i64.to_le_bytes()), RegionError::WrongDataLength { .. }));
        assert!(matches!(Header::validate(&bytes, path, header.region_id, 4095), Err(RegionError::Size { .. })));
        let too_big = HEADER_LENGTH as u64 + MAX_DATA_LENGTH + 1;
        assert!(matches!(Header::validate(&bytes, path, header.region_id, too_big), Err(RegionError::Size { .. })));
    }

    #[test]
    fn region_ids_carry_the_pid_and_a_nonzero_nonce_and_name_the_file() {
        let id = new_region_id();
        assert_eq!((id as u64 >> 32) as u32, std::process::id());
        assert_ne!(id as u32, 0);
        assert_eq!(path("/dev/shm/a", 0x0000_303A_0102_0304), Path::new("/dev/shm/a/polybridge-payloads-0000303a01020304"));
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pb-region-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_response_region_is_created_at_the_first_loan_0600_read_by_a_reader_and_unlinked_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("owner");
        let id = new_region_id();
        let region = ResponseRegion::new(&dir, id, 4 * BLOCK_SIZE);
        assert!(!region.path().exists(), "no file before the first loan");
        let offset = region.lend(1, 1001, b"hello").unwrap();
        let mode = std::fs::metadata(region.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut reader = RequestRegions::new(&dir);
        let slice = reader.resolve(id, offset as i64, 5).unwrap();
        assert_eq!(slice.bytes(), b"hello");
        assert!(matches!(reader.resolve(id, 0, 4 * BLOCK_SIZE as i64 + 1), Err(RegionError::OutOfBounds { .. })));
        assert_eq!(region.lent_bytes(), BLOCK_SIZE);
        assert!(!region.release(LoanKey { correlation_id: 2, reply_stream_id: 1001, offset: offset as i64 }));
        assert!(region.release(LoanKey { correlation_id: 1, reply_stream_id: 1001, offset: offset as i64 }));
        assert_eq!(region.lent_bytes(), 0);
        assert_eq!(region.counts(), LendCounts { loaned_responses: 1, loan_releases: 1, bad_releases: 1, region_full: 0 });
        region.lend(3, 1002, &[1; 3 * BLOCK_SIZE]).unwrap();
        assert!(matches!(region.lend(4, 1002, &[1; 2 * BLOCK_SIZE]), Err(LendError::Full { .. })));
        assert_eq!(region.release_stream(1002), 1);
        assert_eq!(region.lent_bytes(), 0);
        let path = region.path().to_path_buf();
        drop(region);
        assert!(!path.exists(), "unlinked on drop");
        drop(slice);
        reader.next_eviction = Instant::now();
        assert_eq!(reader.evict_gone(Instant::now()), 1, "its file is gone and no request has it in hand");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_region_larger_than_its_filesystems_free_space_is_never_created() {
        let dir = temp_dir("no-space");
        let free = usize::try_from(free_space(&dir).unwrap()).unwrap();
        let region = ResponseRegion::new(&dir, new_region_id(), free + BLOCK_SIZE);
        let error = region.lend(1, 1001, b"x").unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, LendError::Region(RegionError::NoSpace { .. })), "{message}");
        assert!(message.contains(&region.path().display().to_string()) && message.contains("--payload-region-mib"), "{message}");
        assert!(!region.path().exists(), "nothing created");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_reader_refuses_missing_files_and_bad_headers() {
        let dir = temp_dir("reader");
        let mut reader = RequestRegions::new(&dir);
        assert!(matches!(reader.resolve(0x7777_0000_0001, 0, 1), Err(RegionError::Open { .. })));
        let id = 0x7777_0000_0002;
        std::fs::write(path(&dir, id), vec![0u8; HEADER_LENGTH + BLOCK_SIZE]).unwrap();
        assert!(matches!(reader.resolve(id, 0, 1), Err(RegionError::BadMagic { .. })));
        std::fs::write(path(&dir, id), b"short").unwrap();
        assert!(matches!(reader.resolve(id, 0, 1), Err(RegionError::Size { .. })));
        let _ = std::fs::remove_dir_all(dir);
    }
}
