//! The accept loop, bounded: whoever can reach the port must not be able to hold it, nor
//! the process's descriptors. Each connection has a header timeout (a client that sends
//! half a request, or idles between requests, is closed), and the number held open is
//! capped. At the cap, the oldest connection that is not in the middle of a request (an
//! idle or slow client) is closed to make room; when every one is busy, the newcomer is
//! turned away. So a flood of half-open connections cycles through the cap while a
//! health check that asks right away is answered.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Metrics;

/// How the server treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections held open at once.
    pub max_connections: usize,
    /// How long a request head may take to arrive, and how long a kept-alive connection
    /// may idle between requests.
    pub header_timeout: Duration,
}

/// One accepted connection, as the accept loop sees it.
#[derive(Default)]
struct Slot {
    /// Requests being answered right now (HTTP/1: zero or one).
    busy: AtomicUsize,
    /// The connection has ended.
    done: AtomicBool,
    /// Closes the connection at once.
    evict: CancellationToken,
}

/// Marks its slot busy while a request is being answered.
struct Busy(Arc<Slot>);

impl Busy {
    fn new(slot: &Arc<Slot>) -> Self {
        slot.busy.fetch_add(1, Ordering::Relaxed);
        Busy(slot.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a connection was closed by the server rather than by its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// An idle or slow connection closed to make room at the cap.
    Evicted,
    /// Turned away at the cap: every held connection was busy.
    Refused,
}

/// Accepts until `cancel` fires, serving `app` on each connection within `limits`.
pub async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Option<Metrics>,
    cancel: CancellationToken,
) {
    let mut held: VecDeque<Arc<Slot>> = VecDeque::new();
    let conns = TaskTracker::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    let mut warned_at: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, _peer) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of descriptors (or a connection reset before accept): the listener
                // itself is fine. Back off briefly so the loop does not spin.
                tracing::warn!("HTTP server: cannot accept a connection: {e}");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                continue;
            }
        };
        held.retain(|s| !s.done.load(Ordering::Relaxed));
        if held.len() >= limits.max_connections {
            let shed = make_room(&mut held);
            if let Some(m) = &metrics {
                m.http_shed(shed);
            }
            let now = tokio::time::Instant::now();
            if warned_at.is_none_or(|t| now - t >= Duration::from_secs(60)) {
                warned_at = Some(now);
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "HTTP server at its connection cap ({}): closing idle and slow connections to make room",
                    limits.max_connections
                );
            }
            if shed == Shed::Refused {
                drop(stream);
                continue;
            }
        }
        let slot = Arc::new(Slot::default());
        held.push_back(slot.clone());
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let stop = cancel.clone();
        conns.spawn(async move {
            let service = hyper::service::service_fn({
                let slot = slot.clone();
                move |req: hyper::Request<Incoming>| {
                    let busy = Busy::new(&slot);
                    let mut app = app.clone();
                    async move {
                        let response =
                            tower_service::Service::call(&mut app, req.map(axum::body::Body::new))
                                .await;
                        drop(busy);
                        response.map_err(|e: Infallible| -> Infallible { match e {} })
                    }
                }
            });
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = slot.evict.cancelled() => {}
                _ = stop.cancelled() => {
                    // Finish what is being answered; take nothing new.
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            slot.done.store(true, Ordering::Relaxed);
        });
    }
    conns.close();
    conns.wait().await;
}

/// Closes the oldest idle connection in `held`, or says the newcomer must be refused.
fn make_room(held: &mut VecDeque<Arc<Slot>>) -> Shed {
    match held
        .iter()
        .position(|s| s.busy.load(Ordering::Relaxed) == 0)
    {
        Some(i) => {
            if let Some(s) = held.remove(i) {
                s.evict.cancel();
            }
            Shed::Evicted
        }
        None => Shed::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_idle_connection_makes_room() {
        let slots: Vec<Arc<Slot>> = (0..3).map(|_| Arc::new(Slot::default())).collect();
        let mut held: VecDeque<_> = slots.iter().cloned().collect();
        let _busy = Busy::new(&slots[0]);
        assert_eq!(make_room(&mut held), Shed::Evicted);
        assert!(!slots[0].evict.is_cancelled(), "busy: kept");
        assert!(slots[1].evict.is_cancelled(), "oldest idle: closed");
        assert!(!slots[2].evict.is_cancelled());
        assert_eq!(held.len(), 2);
        let _busy2 = Busy::new(&slots[2]);
        assert_eq!(make_room(&mut held), Shed::Refused);
        assert_eq!(held.len(), 2);
    }
}
