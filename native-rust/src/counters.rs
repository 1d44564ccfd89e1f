//! The worker's running totals: one struct, the same names as the Go worker's counters and the
//! shared worker contract (`docs/protocol.md`), also used by the final log line.

use std::fmt;

/// Running totals, for logs and tests. The first nine are the contract's counters, named as
/// in the Go worker; the rest break the outcomes down further.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Well-formed `Request`s with a usable reply stream, whatever their outcome.
    pub requests: u64,
    /// Responses published.
    pub replies: u64,
    /// Responses that could not be published and were dropped: the reply stream's subscriber
    /// has gone, or the stream made no progress for the reply timeout (stuck or missing
    /// subscriber), or no room for another reply publication.
    pub replies_dropped: u64,
    /// Malformed frames answered with `BAD_REQUEST`.
    pub malformed_replied: u64,
    /// Frames dropped unanswered: undecodable without a reply address, or naming a reply
    /// stream id <= 0.
    pub malformed_dropped: u64,
    /// Calls refused with `OVERLOADED`.
    pub overloaded: u64,
    /// Calls a `Cancel` reached while queued or running (once per call).
    pub cancelled: u64,
    /// Calls answered `TIMEOUT`: their deadline passed before or while their handler ran.
    pub timeouts: u64,
    /// Handlers that panicked (answered `PANIC`).
    pub panics: u64,
    /// Calls answered `OK`.
    pub ok: u64,
    /// Requests naming no handler of this worker.
    pub not_found: u64,
    /// Handlers that failed (`HANDLER_ERROR`).
    pub handler_errors: u64,
    /// Payloads a handler rejected (`BAD_REQUEST` from the handler).
    pub bad_payloads: u64,
    /// Responses too large for one Aeron message (`TOO_LARGE`).
    pub too_large: u64,
    /// Well-formed `Cancel`s received, whether or not they found a queued call.
    pub cancels: u64,
    /// Calls answered `WORKER_UNAVAILABLE` because the worker was stopping.
    pub unavailable: u64,
    /// Requests whose payload was read in place, in the caller's payload region.
    pub loaned_requests: u64,
    /// Responses lent: their payload copied into the worker's response region.
    pub loaned_responses: u64,
    /// `PayloadRelease`s that gave a lent response back.
    pub loan_releases: u64,
    /// `PayloadRelease`s that matched no loan (ignored).
    pub bad_releases: u64,
    /// Requests refused (`BAD_REQUEST`) for a bad region reference.
    pub bad_region_refs: u64,
    /// Responses that could not be lent (region full, or not created): sent inline, or
    /// answered `OVERLOADED` when too large for that.
    pub region_full: u64,
}

/// `name=value` pairs separated by spaces, the contract's counters first.
impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "requests={} replies={} replies_dropped={} malformed_replied={} malformed_dropped={} overloaded={} \
             cancelled={} timeouts={} panics={} ok={} not_found={} handler_errors={} bad_payloads={} too_large={} \
             cancels={} unavailable={} loaned_requests={} loaned_responses={} loan_releases={} bad_releases={} \
             bad_region_refs={} region_full={}",
            self.requests,
            self.replies,
            self.replies_dropped,
            self.malformed_replied,
            self.malformed_dropped,
            self.overloaded,
            self.cancelled,
            self.timeouts,
            self.panics,
            self.ok,
            self.not_found,
            self.handler_errors,
            self.bad_payloads,
            self.too_large,
            self.cancels,
            self.unavailable,
            self.loaned_requests,
            self.loaned_responses,
            self.loan_releases,
            self.bad_releases,
            self.bad_region_refs,
            self.region_full
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_line_names_the_shared_counters_first_as_the_go_worker_does() {
        let shared = ["requests", "replies", "replies_dropped", "malformed_replied", "malformed_dropped", "overloaded",
                      "cancelled", "timeouts", "panics"];
        let line = Counters { requests: 3, cancelled: 1, ..Counters::default() }.to_string();
        let names: Vec<&str> = line.split(' ').map(|pair| pair.split('=').next().unwrap_or("")).collect();
        assert_eq!(names[..shared.len()], shared);
        assert!(line.starts_with("requests=3 ") && line.contains(" cancelled=1 "), "{line}");
    }
}
