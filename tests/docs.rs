//! The docs cannot rot: the README's config example parses, every key the config accepts is
//! documented, and the shipped monitor.toml is valid as shipped.

use std::path::Path;

use upwatch::config::{self, Env};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

fn toml_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```toml") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.push(current.take().unwrap_or_default()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

#[test]
fn readme_config_example_is_valid() {
    let blocks = toml_blocks(&readme());
    assert!(!blocks.is_empty(), "README has no ```toml block");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The examples read secrets the way a deployment would: files in a credentials folder
    // and variables in the environment.
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("smtp_password"), "pw\n").unwrap();
    std::fs::write(creds.path().join("webhook_secret"), "s3cret\n").unwrap();
    std::fs::write(
        creds.path().join("webhook_whsec"),
        "whsec_MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIz\n",
    )
    .unwrap();
    let creds_dir = creds.path().to_str().unwrap().to_string();
    for block in blocks {
        let env = Env::from_pairs(&[
            ("MISTRAL_API_KEY", "sk-readme"),
            (
                "SLACK_WEBHOOK_URL",
                "https://hooks.slack.com/services/T0/B0/x",
            ),
            ("CREDENTIALS_DIRECTORY", &creds_dir),
            ("PAGERDUTY_ROUTING_KEY", "R0UTINGKEY"),
            ("OPSGENIE_API_KEY", "genie-key"),
            (
                "DISCORD_WEBHOOK_URL",
                "https://discord.com/api/webhooks/1/tok",
            ),
            (
                "TEAMS_WORKFLOW_URL",
                "https://prod-00.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=s",
            ),
            (
                "GOOGLE_CHAT_WEBHOOK_URL",
                "https://chat.googleapis.com/v1/spaces/A/messages?key=k&token=t",
            ),
            ("TELEGRAM_BOT_TOKEN", "123:abc"),
        ]);
        if let Err(e) = config::parse(&dir.join("README.md"), &block, &env) {
            panic!("README config example does not validate:\n{e}\n---\n{block}");
        }
    }
}

/// The part of the README under a section's own heading (`### `[daemon]``), up to the next
/// heading of the same or a higher level.
fn section_text<'a>(text: &'a str, section: &str) -> Option<&'a str> {
    let headings = [
        format!("### `[{section}]`"),
        format!("### `[[{section}]]`"),
        format!("### `[{section}.NAME]`"),
    ];
    let start = headings.iter().find_map(|h| text.find(h.as_str()))?;
    let body = &text[start + 3..];
    let end = [body.find("\n### "), body.find("\n## ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(body.len());
    Some(&body[..end])
}

#[test]
fn every_config_key_is_documented() {
    let text = readme();
    let mut missing = Vec::new();
    for (section, keys) in config::known_keys() {
        assert!(!keys.is_empty(), "field capture found no key for {section}");
        let own = section_text(&text, section)
            .unwrap_or_else(|| panic!("section {section} has no heading of its own in README.md"));
        missing.extend(
            keys.iter()
                .filter(|key| !own.contains(&format!("`{key}`")))
                .map(|key| format!("{section}.{key}")),
        );
    }
    assert!(
        missing.is_empty(),
        "not documented under their section's heading of README.md (as `key`): {missing:?}"
    );
}

#[test]
fn shipped_monitor_toml_is_valid_without_a_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("monitor.toml");
    let c = config::load_with(&path, &Env::from_pairs(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&*c.targets[0].name, "mistral-models");
    assert_eq!(
        c.targets[0].url.as_str(),
        "https://api.mistral.ai/v1/models"
    );
    assert!(c
        .warnings
        .iter()
        .any(|w| w.contains("bearer_token is empty")));
    let with_key =
        config::load_with(&path, &Env::from_pairs(&[("MISTRAL_API_KEY", "sk-test")])).unwrap();
    assert_eq!(
        with_key.targets[0].headers["authorization"],
        "Bearer sk-test"
    );
    assert!(with_key.warnings.is_empty(), "{:?}", with_key.warnings);
}

/// The monitor.toml embedded in the Kubernetes example, with its ConfigMap indentation.
fn embedded_config(yaml: &str) -> String {
    let mut out = String::new();
    let mut lines = yaml.lines().skip_while(|l| l.trim() != "monitor.toml: |");
    lines.next();
    let indent = "    ";
    for line in lines {
        if line.trim().is_empty() {
            out.push('\n');
            continue;
        }
        match line.strip_prefix(indent) {
            Some(rest) => {
                out.push_str(rest);
                out.push('\n');
            }
            None => break,
        }
    }
    out
}

#[test]
fn container_and_kubernetes_examples_agree_with_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml =
        std::fs::read_to_string(root.join("deploy/kubernetes/upwatch-sidecar.yaml")).unwrap();
    let toml = embedded_config(&yaml);
    assert!(toml.contains("[[target]]"), "{toml}");
    // As the pod's environment would have it.
    let env = Env::from_pairs(&[
        ("MISTRAL_API_KEY", "sk-k8s"),
        ("UPWATCH_LISTEN", "0.0.0.0:9777"),
        ("UPWATCH_STATE_DIR", "/var/lib/upwatch"),
        ("UPWATCH_LOG_FORMAT", "json"),
        ("UPWATCH_LOCATION", "eu-west-1"),
    ]);
    let c = config::parse(Path::new("/etc/upwatch/monitor.toml"), &toml, &env)
        .unwrap_or_else(|e| panic!("the ConfigMap's monitor.toml does not validate:\n{e}"));
    assert_eq!(c.daemon.location, "eu-west-1");
    assert_eq!(c.overrides.len(), 4);

    // Every UPWATCH_* the examples set is one the code reads, and the probes ask for
    // endpoints the server has.
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let known: Vec<&str> = config::ENV_OVERRIDES
        .iter()
        .map(|(v, _)| *v)
        .chain(["UPWATCH_CONFIG"])
        .collect();
    for text in [&dockerfile, &yaml] {
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            // ("UPWATCH_*" in prose splits to a bare "UPWATCH_".)
            if word.starts_with("UPWATCH_") && word.len() > "UPWATCH_".len() {
                assert!(known.contains(&word), "{word} is not read by upwatch");
            }
        }
    }
    assert!(dockerfile.contains(r#"CMD ["/usr/local/bin/upwatch", "healthcheck"]"#));
    assert!(dockerfile.contains("USER 65532:65532"));
    for path in [
        "path: /healthz",
        "path: /readyz",
        "prometheus.io/path: \"/metrics\"",
    ] {
        assert!(yaml.contains(path), "{path}");
    }
}
