//! The open-file limit, and how it is shared. A socket is a file: a daemon whose HTTP port
//! can take every descriptor cannot open one to probe, and would blame healthy targets.
//! So at start the soft limit is raised to the hard one (as Go's runtime does), and the
//! HTTP server may hold only what is left after a reserve for probes, the store and the
//! outbox.

/// The open-file limit after [`raise_nofile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoFile {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit (the ceiling an unprivileged process may raise to).
    pub hard: u64,
    /// The soft limit before, when it was raised.
    pub raised_from: Option<u64>,
}

/// Descriptors the daemon keeps besides probes and HTTP clients: the store (database, WAL,
/// shared memory, reader), the outbox's SMTP and webhook connections, the listening
/// socket, stdio, the runtime's event queue and some slack.
const BASE_RESERVE: u64 = 64;

/// Raises the soft open-file limit to the hard limit. Never fails the start: when the
/// limit cannot be raised, the current figure is reported as it is; when the system call
/// is filtered (the shipped systemd unit denies `@resources`, and sets the limit itself
/// with `LimitNOFILE=`), the figure is read from `/proc/self/limits`.
pub fn raise_nofile() -> std::io::Result<NoFile> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        let e = std::io::Error::last_os_error();
        let text = std::fs::read_to_string("/proc/self/limits").map_err(|_| e)?;
        return proc_limits(&text).ok_or_else(|| {
            std::io::Error::other("no \"Max open files\" line in /proc/self/limits")
        });
    }
    let before = lim.rlim_cur;
    // RLIM_INFINITY as a hard limit is not accepted as a soft one on Linux; nr_open (about a
    // million) is the real ceiling, and a million is plenty.
    let hard = if lim.rlim_max == libc::RLIM_INFINITY {
        1 << 20
    } else {
        lim.rlim_max
    };
    if before >= hard {
        return Ok(NoFile {
            soft: before,
            hard: lim.rlim_max,
            raised_from: None,
        });
    }
    let raised = libc::rlimit {
        rlim_cur: hard,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads one rlimit from a struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Ok(NoFile {
            soft: before,
            hard: lim.rlim_max,
            raised_from: None,
        });
    }
    Ok(NoFile {
        soft: hard,
        hard: lim.rlim_max,
        raised_from: Some(before),
    })
}

/// The open-file limit from the text of `/proc/self/limits`.
fn proc_limits(text: &str) -> Option<NoFile> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line["Max open files".len()..].split_whitespace();
    let mut number = || -> Option<u64> {
        match fields.next()? {
            "unlimited" => Some(u64::MAX),
            n => n.parse().ok(),
        }
    };
    Some(NoFile {
        soft: number()?,
        hard: number()?,
        raised_from: None,
    })
}

/// Descriptors kept away from the HTTP server: every probe that may be in flight, every
/// connection kept open between probes, and [`BASE_RESERVE`].
pub fn reserve(max_concurrency: usize, kept_connections: usize, channels: usize) -> u64 {
    BASE_RESERVE + max_concurrency as u64 + kept_connections as u64 + channels as u64
}

/// How many connections the HTTP server may hold: the configured cap, lowered so that
/// `reserve` descriptors always stay free, but never below a handful (a server that can
/// hold none is worse than one that competes a little).
pub fn connection_cap(max_connections: usize, soft: u64, reserve: u64) -> usize {
    let room = soft.saturating_sub(reserve).max(MIN_CONNECTIONS as u64);
    (max_connections as u64).min(room) as usize
}

/// The fewest connections the HTTP server is allowed, whatever the limit.
pub const MIN_CONNECTIONS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_the_reserve_free() {
        // The common default of 1,024 with 256 probes in flight.
        let r = reserve(256, 10, 3);
        assert_eq!(r, 64 + 256 + 10 + 3);
        assert_eq!(connection_cap(256, 1024, r), 256);
        assert_eq!(connection_cap(1000, 1024, r), 1024 - r as usize);
        // A limit below the reserve still leaves the server a handful.
        assert_eq!(connection_cap(256, 100, r), MIN_CONNECTIONS);
        assert_eq!(connection_cap(4, 1 << 20, r), 4);
    }

    #[test]
    fn the_limit_reads_from_proc_when_the_call_is_filtered() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(
            proc_limits(text),
            Some(NoFile {
                soft: 1024,
                hard: 524_288,
                raised_from: None
            })
        );
        assert_eq!(
            proc_limits("Max cpu time unlimited unlimited seconds"),
            None
        );
        let here = std::fs::read_to_string("/proc/self/limits").unwrap();
        assert!(proc_limits(&here).is_some(), "{here}");
    }

    #[test]
    fn raising_reaches_the_hard_limit() {
        let n = raise_nofile().expect("getrlimit works on Linux");
        assert!(n.soft >= 1, "{n:?}");
        if n.hard != libc::RLIM_INFINITY {
            assert_eq!(n.soft, n.hard, "{n:?}");
        }
    }
}
