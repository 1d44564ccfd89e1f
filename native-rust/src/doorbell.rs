//! The doorbell: how a client wakes a worker that sleeps (docs/protocol.md, "Idle and the
//! doorbell"). A Unix-domain stream socket at `<aeron dir>/polybridge-doorbell-<request stream
//! id>`, mode 0600, that a client writes one byte to after sending a request to a worker it has
//! sent nothing to for a while. One thread accepts connections and one per connection reads
//! (blocking, so none of them costs anything while idle): any byte read is a ring, counted, and
//! unparks the poll thread. Dropping the [`Doorbell`] ends the threads and removes the file.
//! Plain `std` blocking I/O, as the crate has no `unsafe` for `poll(2)`.

use std::io::{self, ErrorKind, Read};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use thiserror::Error;

/// The longest path a Unix-domain socket can be bound to (`sun_path` is 108 bytes with its NUL).
pub const MAX_PATH_LEN: usize = 107;
/// Connections served at once (one per client process is usual); more are closed at once.
const MAX_CONNECTIONS: usize = 64;
/// How long the accepting thread waits after a failed accept (out of descriptors, say).
const ACCEPT_RETRY: std::time::Duration = std::time::Duration::from_millis(100);
/// The doorbell's threads only wait and read into a small buffer.
const STACK_SIZE: usize = 64 << 10;

/// Where the doorbell of the worker on `request_stream_id` is.
pub fn path(aeron_dir: &str, request_stream_id: i32) -> PathBuf {
    Path::new(aeron_dir).join(format!("polybridge-doorbell-{request_stream_id}"))
}

#[derive(Debug, Error)]
pub enum DoorbellError {
    #[error("'{}' is longer than a Unix socket path may be ({MAX_PATH_LEN} bytes)", path.display())]
    PathTooLong { path: PathBuf },
    #[error("cannot remove the file at '{}': {source}", path.display())]
    Stale { path: PathBuf, source: io::Error },
    #[error("cannot listen on '{}': {source}", path.display())]
    Bind { path: PathBuf, source: io::Error },
    #[error("cannot start the doorbell thread: {0}")]
    Thread(io::Error),
}

/// What the threads share.
#[derive(Debug, Default)]
struct Shared {
    stopping: AtomicBool,
    wakes: AtomicU64,
    /// Every open connection (a clone, to shut it down at stop) and its reading thread.
    connections: Mutex<Vec<(UnixStream, JoinHandle<()>)>>,
}

/// A listening doorbell and its threads.
#[derive(Debug)]
pub struct Doorbell {
    path: PathBuf,
    /// The socket file's device and inode: removed at drop only if still ours.
    file: (u64, u64),
    accepting: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl Doorbell {
    /// Listens at `path` (a file already there, a killed predecessor's, is removed first) and
    /// unparks `wake` on every ring.
    pub fn open(path: PathBuf, wake: Thread) -> Result<Self, DoorbellError> {
        if path.as_os_str().len() > MAX_PATH_LEN {
            return Err(DoorbellError::PathTooLong { path });
        }
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != ErrorKind::NotFound => {
                return Err(DoorbellError::Stale { path, source: error });
            }
            _ => {}
        }
        let bind = |path: &Path| -> io::Result<(UnixListener, (u64, u64))> {
            let listener = UnixListener::bind(path)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            let metadata = std::fs::symlink_metadata(path)?;
            Ok((listener, (metadata.dev(), metadata.ino())))
        };
        let (listener, file) = match bind(&path) {
            Ok(bound) => bound,
            Err(source) => {
                let _ = std::fs::remove_file(&path);
                return Err(DoorbellError::Bind { path, source });
            }
        };
        let shared = Arc::new(Shared::default());
        let accepting = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("pb-doorbell".to_owned())
                .stack_size(STACK_SIZE)
                .spawn(move || accept(&listener, &shared, &wake))
        };
        match accepting {
            Ok(accepting) => Ok(Self { path, file, accepting: Some(accepting), shared }),
            Err(error) => {
                let _ = std::fs::remove_file(&path);
                Err(DoorbellError::Thread(error))
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rings that woke the poll thread so far (`doorbell_wakes`).
    pub fn wakes(&self) -> u64 {
        self.shared.wakes.load(Ordering::Relaxed)
    }

    fn is_ours(&self) -> bool {
        std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && (m.dev(), m.ino()) == self.file)
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let ours = self.is_ours();
        // The accepting thread waits in accept(2): a connection of our own ends the wait. If the
        // file is gone or a successor's, there is no way to reach it: it is left to the process's
        // exit rather than waited for.
        if let Some(accepting) = self.accepting.take() {
            if ours && UnixStream::connect(&self.path).is_ok() {
                let _ = accepting.join();
            }
        }
        let connections = std::mem::take(&mut *self.shared.connections.lock().unwrap_or_else(|e| e.into_inner()));
        for (connection, reading) in connections {
            // Ends the blocking read of its thread.
            let _ = connection.shutdown(Shutdown::Both);
            let _ = reading.join();
        }
        if ours {
            if let Err(error) = std::fs::remove_file(&self.path) {
                log::warn!("cannot remove the doorbell '{}': {error}", self.path.display());
            }
        }
    }
}

/// The accepting thread: one reading thread per connection, until the doorbell stops.
fn accept(listener: &UnixListener, shared: &Arc<Shared>, wake: &Thread) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok((connection, _)) = accepted else {
            // Out of descriptors, say: try again later rather than spin.
            thread::sleep(ACCEPT_RETRY);
            continue;
        };
        let mut connections = shared.connections.lock().unwrap_or_else(|e| e.into_inner());
        // Threads of connections that have hung up are done: let them go.
        connections.retain(|(_, reading)| !reading.is_finished());
        if connections.len() >= MAX_CONNECTIONS {
            continue;
        }
        let Ok(handle) = connection.try_clone() else { continue };
        let reading = {
            let (shared, wake) = (Arc::clone(shared), wake.clone());
            thread::Builder::new()
                .name("pb-doorbell-conn".to_owned())
                .stack_size(STACK_SIZE)
                .spawn(move || read(connection, &shared, &wake))
        };
        if let Ok(reading) = reading {
            connections.push((handle, reading));
        }
    }
}

/// A connection's thread: every read of one or more bytes is a ring.
fn read(mut connection: UnixStream, shared: &Shared, wake: &Thread) {
    let mut discard = [0u8; 64];
    loop {
        match connection.read(&mut discard) {
            Ok(0) => return,
            Ok(_) => {
                if shared.stopping.load(Ordering::Relaxed) {
                    return;
                }
                shared.wakes.fetch_add(1, Ordering::Relaxed);
                wake.unpark();
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
