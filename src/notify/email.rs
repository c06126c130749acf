//! Email over SMTP (lettre, tokio, rustls with the process's one crypto provider):
//! multipart text + HTML, STARTTLS, implicit TLS or none, optional AUTH.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::digest::Digest;
use super::{Notification, NotifySetupError, SendError};
use crate::alert::TransitionKind;
use crate::config::{ChannelConfig, EmailChannel, SmtpTls};

/// Sends notifications to one email channel.
pub struct EmailNotifier {
    pub(crate) config: Arc<ChannelConfig>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The plain-text and HTML bodies of `n`.
pub fn bodies(n: &Notification) -> (String, String) {
    let verb = match n.kind {
        TransitionKind::Firing => "is failing",
        TransitionKind::Reminder => "is still failing",
        TransitionKind::Resolved => "has recovered",
        TransitionKind::Notice => "changed",
    };
    let mut text = if n.folded {
        format!("{} ({} alert).\n\n", n.episode(), n.severity.as_str())
    } else {
        format!("{} {verb} ({} alert).\n\n", n.target, n.severity.as_str())
    };
    if n.test {
        text = format!(
            "This is a test notification from `upwatch test-alert`; no action is needed.\n\n{text}"
        );
    }
    let label = match n.kind {
        TransitionKind::Resolved => "Last failing conditions",
        TransitionKind::Notice => "What changed",
        _ => "Failing conditions",
    };
    text.push_str(&format!("{label}:\n"));
    for c in &n.conditions {
        text.push_str(&format!("  - {}: {}\n", c.kind.as_str(), c.detail));
    }
    let diagnosis = n.diagnosis();
    if !diagnosis.is_empty() {
        text.push('\n');
    }
    for (label, line) in &diagnosis {
        text.push_str(&format!("{:<9} {line}\n", format!("{label}:")));
    }
    if let Some(v) = &n.vendor {
        text.push_str(&format!("\nVendor:   {v}\n"));
    }
    text.push_str(&format!(
        "\nURL:      {}\nSince:    {}\n",
        n.url,
        n.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    if let Some(end) = n.resolved_at {
        text.push_str(&format!(
            "Resolved: {} (lasted {})\n",
            end.format("%Y-%m-%d %H:%M:%S UTC"),
            n.duration_text(end)
        ));
    }
    text.push_str(&format!("Location: {}\nAlert id: {}\n", n.location, n.id));

    let colour = match (n.kind, n.severity) {
        (TransitionKind::Resolved, _) => "#2eb67d",
        (_, crate::alert::Severity::Critical) => "#e01e5a",
        (_, crate::alert::Severity::Warning) => "#ecb22e",
    };
    let items: String = n
        .conditions
        .iter()
        .map(|c| {
            format!(
                "<li><code>{}</code> {}</li>",
                c.kind.as_str(),
                html_escape(&c.detail)
            )
        })
        .collect();
    let resolved = n
        .resolved_at
        .map(|end| {
            format!(
                "<tr><th align=\"left\">Resolved</th><td>{} (lasted {})</td></tr>",
                end.format("%Y-%m-%d %H:%M:%S UTC"),
                n.duration_text(end)
            )
        })
        .unwrap_or_default();
    let vendor: String = diagnosis
        .iter()
        .map(|(label, line)| format!("<p><b>{label}:</b> {}</p>", html_escape(line)))
        .chain(
            n.vendor
                .as_ref()
                .map(|v| format!("<p><b>Vendor:</b> {}</p>", html_escape(v))),
        )
        .collect();
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <h2 style=\"border-left:6px solid {colour};padding-left:8px\">{} {verb}</h2>\
         <p>{} alert{}</p><p><b>{label}</b></p><ul>{items}</ul>{vendor}\
         <table><tr><th align=\"left\">URL</th><td>{}</td></tr>\
         <tr><th align=\"left\">Since</th><td>{}</td></tr>{resolved}\
         <tr><th align=\"left\">Location</th><td>{}</td></tr>\
         <tr><th align=\"left\">Alert id</th><td>{}</td></tr></table></body></html>",
        html_escape(&n.target),
        n.severity.as_str(),
        if n.test {
            " (test notification, no action needed)"
        } else {
            ""
        },
        html_escape(&n.url),
        n.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        html_escape(&n.location),
        html_escape(&n.id),
    );
    (text, html)
}

/// The plain-text and HTML bodies of a batch of notifications (see [`super::digest`]).
pub fn group_bodies(batch: &[Notification]) -> (String, String) {
    let d = Digest::of(batch);
    let mut text = String::new();
    let mut html = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    html.push_str(&format!("<h2>{}</h2>", html_escape(&d.subject())));
    let mut list = |title: String, lines: Vec<String>| {
        if lines.is_empty() {
            return;
        }
        text.push_str(&format!("{title}:\n"));
        html.push_str(&format!("<p><b>{}</b></p><ul>", html_escape(&title)));
        for l in &lines {
            text.push_str(&format!("  - {l}\n"));
            html.push_str(&format!("<li>{}</li>", html_escape(l)));
        }
        text.push('\n');
        html.push_str("</ul>");
    };
    list(
        format!("Failing ({})", d.firing.len()),
        d.firing.iter().map(|n| d.firing_line(n)).collect(),
    );
    list(
        format!("Recovered ({})", d.resolved.len()),
        d.resolved
            .iter()
            .map(|n| Digest::resolved_line(n))
            .collect(),
    );
    list(
        "Notices".to_string(),
        d.notices.iter().map(|n| Digest::notice_line(n)).collect(),
    );
    if let Some(v) = d.shared_vendor() {
        text.push_str(&format!("Vendor:   {v}\n\n"));
        html.push_str(&format!("<p><b>Vendor:</b> {}</p>", html_escape(v)));
    }
    let location = batch.first().map_or("", |n| n.location.as_str());
    let ids: Vec<&str> = batch.iter().map(|n| n.id.as_str()).collect();
    text.push_str(&format!(
        "Location: {location}\nAlert ids: {}\n",
        ids.join(", ")
    ));
    html.push_str(&format!(
        "<p>Location: {}<br>Alert ids: {}</p></body></html>",
        html_escape(location),
        html_escape(&ids.join(", "))
    ));
    (text, html)
}

impl EmailNotifier {
    pub(crate) fn new(
        config: Arc<ChannelConfig>,
        e: &EmailChannel,
    ) -> Result<Self, NotifySetupError> {
        let err = |message: String| NotifySetupError::Smtp {
            channel: config.name.to_string(),
            message,
        };
        // Trust exactly what the probe trusts (system roots) plus this channel's CA file.
        let mut params =
            TlsParameters::builder(e.host.clone()).certificate_store(CertificateStore::None);
        for der in crate::tls::system_root_ders() {
            if let Ok(c) = Certificate::from_der(der.to_vec()) {
                params = params.add_root_certificate(c);
            }
        }
        if let Some(path) = &e.tls_ca_file {
            for der in crate::tls::load_ca_file(path).map_err(err)? {
                params = params.add_root_certificate(
                    Certificate::from_der(der.to_vec()).map_err(|e| err(e.to_string()))?,
                );
            }
        }
        let params = params
            .build_rustls()
            .map_err(|e| err(format!("TLS setup: {e}")))?;
        let tls = match e.tls {
            SmtpTls::Starttls => Tls::Required(params),
            SmtpTls::Implicit => Tls::Wrapper(params),
            SmtpTls::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(e.host.clone())
            .port(e.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let Some(user) = &e.username {
            let password = e
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let from: Mailbox = e.from.parse().map_err(|x| err(format!("from: {x}")))?;
        let to =
            e.to.iter()
                .map(|t| t.parse::<Mailbox>().map_err(|x| err(format!("to: {x}"))))
                .collect::<Result<Vec<_>, _>>()?;
        Ok(EmailNotifier {
            transport: builder.build(),
            from,
            to,
            config,
        })
    }

    /// The message for `n` (pure apart from the Date header).
    pub fn message(&self, n: &Notification) -> Result<Message, SendError> {
        let (text, html) = bodies(n);
        self.compose(n.subject(), text, html)
    }

    fn compose(&self, subject: String, text: String, html: String) -> Result<Message, SendError> {
        let mut b = Message::builder().from(self.from.clone()).subject(subject);
        for t in &self.to {
            b = b.to(t.clone());
        }
        b.header(ContentType::TEXT_PLAIN)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
            )
            .map_err(|e| SendError::permanent(format!("cannot build the message: {e}")))
    }

    pub(crate) async fn send(
        &self,
        n: &Notification,
        _now: DateTime<Utc>,
    ) -> Result<(), SendError> {
        self.deliver(self.message(n)?).await
    }

    pub(crate) async fn send_group(
        &self,
        batch: &[Notification],
        _now: DateTime<Utc>,
    ) -> Result<(), SendError> {
        let (text, html) = group_bodies(batch);
        self.deliver(self.compose(Digest::of(batch).subject(), text, html)?)
            .await
    }

    async fn deliver(&self, msg: Message) -> Result<(), SendError> {
        match self.transport.send(msg).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e.status().map(|c| format!("SMTP {c} ")).unwrap_or_default();
                let text = format!("{code}{}", crate::error_chain(&e));
                if e.is_permanent() {
                    Err(SendError::permanent(text))
                } else {
                    Err(SendError::transient(text))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;
    use crate::probe::{Failure, FailureKind};
    use chrono::TimeZone;

    #[test]
    fn bodies_name_conditions_and_escape_html() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        let mut n = Notification::new(
            TransitionKind::Resolved,
            Severity::Warning,
            "api",
            "https://x.example/?a=1&b=<2>",
            vec![Failure::new(FailureKind::TooSlow, "latency 4.2 s > 3 s")],
            t0,
            "local",
        );
        n.id = "id-9".into();
        n.resolved_at = Some(t0 + chrono::Duration::minutes(12));
        let (text, html) = bodies(&n);
        assert!(
            text.starts_with("api has recovered (warning alert).\n"),
            "{text}"
        );
        assert!(
            text.contains("  - too_slow: latency 4.2 s > 3 s\n"),
            "{text}"
        );
        assert!(
            text.contains("Resolved: 2026-11-23 10:12:00 UTC (lasted 12m)"),
            "{text}"
        );
        assert!(
            html.contains("<li><code>too_slow</code> latency 4.2 s &gt; 3 s</li>"),
            "{html}"
        );
        assert!(
            html.contains("https://x.example/?a=1&amp;b=&lt;2&gt;"),
            "{html}"
        );
    }
}
