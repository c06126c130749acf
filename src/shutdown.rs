//! Signals: the first SIGINT/SIGTERM starts a graceful shutdown; a second one exits at once.

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
