//! Watching another process: `--parent-pid` (the JVM of a Bridge, so that a SIGKILLed JVM
//! leaves no worker behind, even one started through a wrapper whose own parent is someone
//! else) and the media driver's process (its pid is in its CnC file).
//!
//! On Linux the process is identified by its pid and its start time (field 22 of
//! `/proc/PID/stat`, read once at startup), so a recycled pid is not mistaken for the parent.
//! A zombie counts as gone. Without `/proc`, only the worker's own parent can be watched: it
//! is gone when the worker has been re-parented.

use std::io;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WatchError {
    #[error("process {pid} is gone")]
    Gone { pid: u32 },
    #[error("cannot watch process {pid}: {reason}")]
    Unsupported { pid: u32, reason: String },
}

/// A process whose end the worker watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessWatch {
    pid: u32,
    how: How,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum How {
    /// `/proc/PID/stat` with this start time (clock ticks since boot).
    StartTime(u64),
    /// No `/proc`: the worker's own parent, while `parent_id()` still returns it.
    OwnParent,
}

impl ProcessWatch {
    /// Starts watching `pid`; fails when it is gone already.
    pub fn new(pid: u32) -> Result<Self, WatchError> {
        match process_start_time(pid) {
            Ok(Some(start_time)) => Ok(Self { pid, how: How::StartTime(start_time) }),
            Ok(None) => Err(WatchError::Gone { pid }),
            Err(error) if proc_is_missing() => {
                if std::os::unix::process::parent_id() == pid {
                    Ok(Self { pid, how: How::OwnParent })
                } else {
                    let reason = format!("no /proc ({error}) and it is not this process's parent");
                    Err(WatchError::Unsupported { pid, reason })
                }
            }
            Err(error) => Err(WatchError::Unsupported { pid, reason: error.to_string() }),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the watched process still runs. Costs one small read of `/proc`.
    pub fn is_alive(&self) -> bool {
        match self.how {
            How::StartTime(start_time) => matches!(process_start_time(self.pid), Ok(Some(now)) if now == start_time),
            How::OwnParent => std::os::unix::process::parent_id() == self.pid,
        }
    }

    /// `Ok(())` while the process runs, else the error the worker stops with.
    pub fn check(&self) -> Result<(), WatchError> {
        if self.is_alive() {
            Ok(())
        } else {
            Err(WatchError::Gone { pid: self.pid })
        }
    }
}

fn proc_is_missing() -> bool {
    std::fs::metadata("/proc/self/stat").is_err()
}

/// The start time of process `pid` from `/proc/PID/stat`: `Ok(None)` when there is no such
/// process or it is a zombie (dead, not yet reaped), an error when `/proc` cannot be read.
pub fn process_start_time(pid: u32) -> io::Result<Option<u64>> {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        Err(error) if error.kind() == io::ErrorKind::NotFound && !proc_is_missing() => return Ok(None),
        Err(error) => return Err(error),
    };
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are
    // counted from the last ')'. After it come field 3 (state) onwards; starttime is field 22.
    let after_comm = stat.rfind(')').map_or("", |at| &stat[at + 1..]);
    let mut fields = after_comm.split_ascii_whitespace();
    let state = fields.next();
    if matches!(state, Some("Z" | "X" | "x")) {
        return Ok(None);
    }
    let start_time = fields.nth(22 - 4).and_then(|field| field.parse().ok());
    start_time.map(Some).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc/{pid}/stat")))
}
