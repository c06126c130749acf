//! systemd's notify protocol, written out: one datagram per message to `$NOTIFY_SOCKET`
//! (a path, or `@name` in the abstract namespace). `READY=1` once the daemon probes,
//! `STATUS=` lines for `systemctl status`, `WATCHDOG=1` while the scheduler keeps its
//! promises, `STOPPING=1` at shutdown. Without `$NOTIFY_SOCKET` every call does nothing.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to the service manager, when there is one.
#[derive(Debug)]
pub struct SdNotify {
    socket: UnixDatagram,
    addr: SocketAddr,
}

impl SdNotify {
    /// From `$NOTIFY_SOCKET`; `None` when unset or unusable (logged).
    pub fn from_env() -> Option<SdNotify> {
        let path = std::env::var_os("NOTIFY_SOCKET")?;
        let path = path.to_string_lossy().into_owned();
        match Self::connect(&path) {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!("NOTIFY_SOCKET={path:?} is not usable ({e}); no readiness or watchdog messages will be sent");
                None
            }
        }
    }

    /// A connection to the socket at `path` (`@name`: abstract namespace).
    pub fn connect(path: &str) -> std::io::Result<SdNotify> {
        let addr = match path.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                SocketAddr::from_abstract_name(name.as_bytes())?
            }
            None => SocketAddr::from_pathname(path)?,
        };
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(SdNotify { socket, addr })
    }

    /// Sends one message (`KEY=value` lines). A failure is logged at debug: the service
    /// manager going away must never stop the daemon.
    pub fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.addr) {
            tracing::debug!("sd_notify {message:?}: {e}");
        }
    }
}

/// The watchdog period systemd asked for (`$WATCHDOG_USEC`), when it is meant for this
/// process (`$WATCHDOG_PID` unset or ours).
pub fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        let n = SdNotify::connect(path.to_str().unwrap()).unwrap();
        n.send("READY=1\nSTATUS=probing 1 target");
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=probing 1 target");
    }

    #[test]
    fn abstract_names_are_understood() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("upwatch-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
            .unwrap();
        SdNotify::connect(&format!("@{name}"))
            .unwrap()
            .send("WATCHDOG=1");
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
    }
}
