//! `${VAR}` / `${VAR:-default}` expansion and `*_file` secret reading.

use std::path::{Path, PathBuf};

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${NAME}` names a variable that is not set and has no default.
    #[error("environment variable {0} is not set (use ${{{0}:-default}} to allow that)")]
    Missing(String),
    /// `${` without a closing `}`.
    #[error("unterminated \"${{\" (write \"$$\" for a literal \"$\")")]
    Unterminated,
    /// `${}` or a name with characters other than letters, digits and `_`.
    #[error("invalid variable name {0:?} (letters, digits and _ only)")]
    BadName(String),
}

/// A string after expansion, with the values that came from the environment (secrets:
/// they must be masked wherever the string is shown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The expanded text.
    pub value: String,
    /// Non-empty values substituted from the environment.
    pub substituted: Vec<String>,
}

/// Expands `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`, a `$` before anything else
/// is kept as is.
pub fn expand(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, ExpandError> {
    let mut value = String::with_capacity(input.len());
    let mut substituted = Vec::new();
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        value.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            value.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(ExpandError::Unterminated)?;
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(ExpandError::BadName(name.to_string()));
            }
            match (lookup(name), default) {
                (Some(v), _) => {
                    if !v.is_empty() {
                        substituted.push(v.clone());
                    }
                    value.push_str(&v);
                }
                (None, Some(d)) => value.push_str(d),
                (None, None) => return Err(ExpandError::Missing(name.to_string())),
            }
            rest = &body[end + 1..];
        } else {
            value.push('$');
            rest = after;
        }
    }
    value.push_str(rest);
    Ok(Expanded { value, substituted })
}

/// Where a relative `*_file` name is looked up: `$CREDENTIALS_DIRECTORY` (systemd
/// LoadCredential) when set, else the config file's folder.
pub fn resolve_secret_path(
    name: &str,
    credentials_dir: Option<&Path>,
    config_dir: &Path,
) -> PathBuf {
    let p = Path::new(name);
    if p.is_absolute() {
        p.to_path_buf()
    } else if let Some(dir) = credentials_dir {
        dir.join(p)
    } else {
        config_dir.join(p)
    }
}

/// Reads a secret file; one trailing newline (as editors and `echo` write) is dropped.
pub fn read_secret_file(path: &Path) -> std::io::Result<String> {
    let mut s = std::fs::read_to_string(path)?;
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "KEY" => Some("sk-123".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_variables_and_defaults() {
        let e = expand("Bearer ${KEY}", &env).unwrap();
        assert_eq!(e.value, "Bearer sk-123");
        assert_eq!(e.substituted, vec!["sk-123".to_string()]);
        assert_eq!(expand("${NOPE:-x}/${EMPTY}", &env).unwrap().value, "x/");
        assert_eq!(expand("${NOPE:-}", &env).unwrap().value, "");
        assert_eq!(
            expand("cost $5 $${KEY}", &env).unwrap().value,
            "cost $5 ${KEY}"
        );
    }

    #[test]
    fn reports_missing_and_malformed_variables() {
        assert_eq!(
            expand("${NOPE}", &env),
            Err(ExpandError::Missing("NOPE".into()))
        );
        assert_eq!(expand("${KEY", &env), Err(ExpandError::Unterminated));
        assert_eq!(
            expand("${A-B}", &env),
            Err(ExpandError::BadName("A-B".into()))
        );
        assert!(ExpandError::Missing("X".into())
            .to_string()
            .contains("${X:-default}"));
    }

    #[test]
    fn secret_paths_prefer_the_credentials_directory() {
        let cfg = Path::new("/etc/upwatch");
        assert_eq!(
            resolve_secret_path("key", Some(Path::new("/run/creds")), cfg),
            PathBuf::from("/run/creds/key")
        );
        assert_eq!(
            resolve_secret_path("key", None, cfg),
            PathBuf::from("/etc/upwatch/key")
        );
        assert_eq!(
            resolve_secret_path("/abs/key", None, cfg),
            PathBuf::from("/abs/key")
        );
    }
}
