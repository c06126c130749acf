//! Signals: the first SIGINT/SIGTERM starts a graceful shutdown; a second one exits at once.
//! SIGHUP asks for a reload (see `cli::run`).

/// Waits for SIGINT or SIGTERM and returns its name.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            // Without signal handlers the daemon cannot stop gracefully; wait forever and
            // let the default disposition (termination) apply.
            std::future::pending::<()>().await;
            unreachable!()
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}

/// After the first signal: a second one ends the process immediately (exit 130), so a
/// stuck shutdown never needs `kill -9`.
pub fn exit_on_second_signal() {
    tokio::spawn(async {
        let name = signal().await;
        eprintln!("upwatch: second {name}, exiting now");
        std::process::exit(130);
    });
}

/// SIGHUP, caught for the daemon's lifetime (its default action would end the process).
pub struct Hangups {
    #[cfg(unix)]
    inner: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    /// Starts catching SIGHUP.
    pub fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Hangups {
                inner: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// Waits for the next SIGHUP (forever, where there are none).
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.inner {
            if s.recv().await.is_some() {
                return;
            }
        }
        std::future::pending::<()>().await
    }
}

impl Default for Hangups {
    fn default() -> Self {
        Self::new()
    }
}
