//! `upwatch healthcheck`: asks the running daemon's `/healthz`, for container health checks.

use std::path::Path;

use super::{load, EXIT_ERROR, EXIT_OK, EXIT_UNHEALTHY};

pub(super) async fn healthcheck(path: &Path) -> u8 {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // A wildcard listen address is reached on loopback.
    let mut addr = config.daemon.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{addr}/healthz");
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("upwatch: cannot build an HTTP client: {e}");
            return EXIT_ERROR;
        }
    };
    match client.get(&url).send().await {
        Ok(resp) => {
            let ok = resp.status().is_success();
            let body = resp.text().await.unwrap_or_default();
            print!("{body}");
            if ok {
                EXIT_OK
            } else {
                EXIT_UNHEALTHY
            }
        }
        Err(e) => {
            println!(
                "unhealthy: no answer from {url}: {}",
                crate::error_chain(&e)
            );
            EXIT_UNHEALTHY
        }
    }
}
