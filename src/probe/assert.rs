//! Assertions a target's config makes about each answer (`[[target.assert]]`): a JSONPath
//! (RFC 9535) into the body, a header, the status, the body text or the latency, checked
//! with one operator. Pure: the config builds them (already validated: the path parsed,
//! the regex compiled, the value of a type the operator takes), the judge applies them.

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use serde_json_path::JsonPath;

use super::result::{Failure, FailureKind};

/// One assertion, as validated from the config.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// Its place among the target's assertions, from 1 (messages name it).
    pub index: usize,
    /// What it looks at.
    pub subject: Subject,
    /// What it requires of it.
    pub check: Check,
    /// Every selected node must pass (`match = "all"`), not just one.
    pub all: bool,
    /// `severity = "warning"`: a failure only degrades the target.
    pub warning: bool,
}

/// What an assertion looks at.
#[derive(Debug, Clone)]
pub enum Subject {
    /// The nodes a JSONPath selects in the body (parsed as JSON), with the path as written.
    Json(JsonPath, String),
    /// Every value of a response header (name in lower case).
    Header(String),
    /// The status code.
    Status,
    /// The body as text.
    Body,
    /// The attempt's total time, in milliseconds.
    LatencyMs,
}

impl Subject {
    /// Whether judging it needs the whole body.
    pub fn needs_body(&self) -> bool {
        matches!(self, Subject::Json(..) | Subject::Body)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (numbers as numbers: `10` equals `10.0` and the header text "10").
    Eq,
    /// Not equal.
    Ne,
    /// Less than (numbers only).
    Lt,
    /// At most.
    Le,
    /// More than.
    Gt,
    /// At least.
    Ge,
}

impl Op {
    /// The operators and their names in the config.
    pub const NAMES: [(&'static str, Op); 6] = [
        ("eq", Op::Eq),
        ("ne", Op::Ne),
        ("lt", Op::Lt),
        ("le", Op::Le),
        ("gt", Op::Gt),
        ("ge", Op::Ge),
    ];

    fn name(self) -> &'static str {
        Op::NAMES
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether it orders (and so needs a number).
    pub fn orders(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

/// A value an assertion compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// A number (integers too).
    Number(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Number(n) => write!(f, "{n}"),
            Expected::Text(t) => write!(f, "{t:?}"),
            Expected::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// What an assertion requires of each node.
#[derive(Debug, Clone)]
pub enum Check {
    /// A comparison with one value.
    Compare(Op, Expected),
    /// Equal to one of these (`in = [200, 204]`).
    In(Vec<Expected>),
    /// The text matches the regular expression (as written, compiled).
    Matches(regex::Regex),
    /// At least one node is selected (`match` does not apply).
    Exists,
    /// No node is selected.
    Absent,
}

impl fmt::Display for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Subject::Json(_, path) => write!(f, "{path}")?,
            Subject::Header(h) => write!(f, "header {h}")?,
            Subject::Status => f.write_str("status")?,
            Subject::Body => f.write_str("body")?,
            Subject::LatencyMs => f.write_str("latency_ms")?,
        }
        match &self.check {
            Check::Compare(op, v) => write!(f, " {} {v}", op.name())?,
            Check::In(vs) => {
                let list: Vec<String> = vs.iter().map(Expected::to_string).collect();
                write!(f, " in [{}]", list.join(", "))?;
            }
            Check::Matches(re) => write!(f, " matches {:?}", re.as_str())?,
            Check::Exists => f.write_str(" exists")?,
            Check::Absent => f.write_str(" absent")?,
        }
        if self.all && !matches!(self.check, Check::Exists | Check::Absent) {
            f.write_str(" (all)")?;
        }
        Ok(())
    }
}

/// What the assertions are judged on.
pub struct Answer<'a> {
    /// The status code.
    pub status: u16,
    /// Response headers, names in lower case.
    pub headers: &'a [(String, String)],
    /// The body as read.
    pub body: &'a [u8],
    /// The body was cut at `max_body_size`: what needs it is not judged on a part.
    pub truncated: bool,
    /// The attempt's total time.
    pub latency: Duration,
}

/// Longest detail of one failed assertion (found values are cut to fit).
const DETAIL_CHARS: usize = 300;

/// Every failed assertion of `answer`, in config order. `redact` scrubs what is shown.
pub fn judge(
    assertions: &[Assertion],
    answer: &Answer<'_>,
    redact: impl Fn(&str) -> String,
) -> Vec<Failure> {
    let mut parsed: Option<Result<Value, String>> = None;
    let mut failures = Vec::new();
    for a in assertions {
        let fail = |what: String| {
            let kind = if a.warning {
                FailureKind::AssertionWarning
            } else {
                FailureKind::Assertion
            };
            let mut detail = redact(&format!("assert #{} ({a}): {what}", a.index));
            if detail.chars().count() > DETAIL_CHARS {
                detail = detail.chars().take(DETAIL_CHARS - 1).collect::<String>() + "…";
            }
            Failure::new(kind, detail)
        };
        if a.subject.needs_body() && answer.truncated {
            failures.push(Failure::new(
                FailureKind::BodyTooLarge,
                format!(
                    "assert #{} ({a}): not judged, the body was cut at max_body_size ({} bytes); raise max_body_size",
                    a.index,
                    answer.body.len()
                ),
            ));
            continue;
        }
        let nodes: Vec<Value> = match &a.subject {
            Subject::Json(path, _) => {
                let doc = parsed.get_or_insert_with(|| {
                    serde_json::from_slice::<Value>(answer.body)
                        .map_err(|e| format!("the body is not JSON ({e})"))
                });
                match doc {
                    Ok(doc) => path.query(doc).all().into_iter().cloned().collect(),
                    Err(e) => {
                        failures.push(fail(e.clone()));
                        continue;
                    }
                }
            }
            Subject::Header(name) => answer
                .headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| Value::String(v.clone()))
                .collect(),
            Subject::Status => vec![Value::from(answer.status)],
            Subject::Body => vec![Value::String(
                String::from_utf8_lossy(answer.body).into_owned(),
            )],
            Subject::LatencyMs => vec![Value::from(answer.latency.as_secs_f64() * 1000.0)],
        };
        if let Some(what) = verdict(a, &nodes) {
            failures.push(fail(what));
        }
    }
    failures
}

/// Why `nodes` fail `a`, or None when they pass.
fn verdict(a: &Assertion, nodes: &[Value]) -> Option<String> {
    match &a.check {
        Check::Exists => return nodes.is_empty().then(|| "nothing selected".to_string()),
        Check::Absent => {
            return (!nodes.is_empty()).then(|| format!("selected {}", shown(nodes)));
        }
        _ => {}
    }
    if nodes.is_empty() {
        return Some("nothing selected".to_string());
    }
    let passes = |n: &Value| match &a.check {
        Check::Compare(op, v) => compare(n, *op, v),
        Check::In(vs) => vs.iter().any(|v| compare(n, Op::Eq, v)),
        Check::Matches(re) => re.is_match(&text_of(n)),
        Check::Exists | Check::Absent => true,
    };
    let ok = if a.all {
        nodes.iter().all(passes)
    } else {
        nodes.iter().any(passes)
    };
    if ok {
        return None;
    }
    Some(if a.all {
        let failing: Vec<Value> = nodes.iter().filter(|n| !passes(n)).cloned().collect();
        format!(
            "found {} of {} not passing: {}",
            failing.len(),
            nodes.len(),
            shown(&failing)
        )
    } else {
        format!("found {}", shown(nodes))
    })
}

/// The nodes as short JSON: the first five, then how many more.
fn shown(nodes: &[Value]) -> String {
    let mut parts: Vec<String> = nodes
        .iter()
        .take(5)
        .map(|n| {
            let t = n.to_string();
            if t.chars().count() > 60 {
                t.chars().take(59).collect::<String>() + "…"
            } else {
                t
            }
        })
        .collect();
    if nodes.len() > 5 {
        parts.push(format!("(+{} more)", nodes.len() - 5));
    }
    parts.join(", ")
}

/// A node as text: strings as they are, anything else as JSON.
fn text_of(n: &Value) -> String {
    match n {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A node as a number: JSON numbers, and strings that read as one (header values).
fn number_of(n: &Value) -> Option<f64> {
    match n {
        Value::Number(x) => x.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn compare(n: &Value, op: Op, v: &Expected) -> bool {
    let ordering = match v {
        Expected::Number(want) => match number_of(n) {
            Some(got) => got.partial_cmp(want),
            None => return op == Op::Ne,
        },
        Expected::Text(want) => Some(text_of(n).as_str().cmp(want.as_str())),
        Expected::Bool(want) => match n {
            Value::Bool(got) => Some(got.cmp(want)),
            _ => return op == Op::Ne,
        },
    };
    let Some(o) = ordering else {
        return op == Op::Ne;
    };
    use std::cmp::Ordering::*;
    match op {
        Op::Eq => o == Equal,
        Op::Ne => o != Equal,
        Op::Lt => o == Less,
        Op::Le => o != Greater,
        Op::Gt => o == Greater,
        Op::Ge => o != Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(path: &str, check: Check, all: bool) -> Assertion {
        Assertion {
            index: 1,
            subject: Subject::Json(JsonPath::parse(path).unwrap(), path.to_string()),
            check,
            all,
            warning: false,
        }
    }

    const MODELS: &[u8] = br#"{"object":"list","data":[{"id":"codestral-latest","max_context_length":256000},{"id":"mistral-small-latest","max_context_length":32000}]}"#;

    fn run(a: &Assertion, body: &[u8]) -> Vec<Failure> {
        let headers = vec![
            ("x-ratelimit-limit".to_string(), "60".to_string()),
            ("x-ratelimit-limit".to_string(), "5000".to_string()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        judge(
            std::slice::from_ref(a),
            &Answer {
                status: 200,
                headers: &headers,
                body,
                truncated: false,
                latency: Duration::from_millis(420),
            },
            str::to_string,
        )
    }

    fn passes(a: &Assertion) -> bool {
        run(a, MODELS).is_empty()
    }

    #[test]
    fn every_operator_passes_and_fails() {
        let n = Expected::Number;
        let t = |s: &str| Expected::Text(s.to_string());
        let ctx = "$.data[*].max_context_length";
        let cases: Vec<(Assertion, bool)> = vec![
            (
                json(
                    "$.data[*].id",
                    Check::Compare(Op::Eq, t("codestral-latest")),
                    false,
                ),
                true,
            ),
            (
                json(
                    "$.data[*].id",
                    Check::Compare(Op::Eq, t("mistral-huge")),
                    false,
                ),
                false,
            ),
            (
                json("$.object", Check::Compare(Op::Ne, t("error")), false),
                true,
            ),
            (
                json("$.object", Check::Compare(Op::Ne, t("list")), false),
                false,
            ),
            (json(ctx, Check::Compare(Op::Lt, n(32_001.0)), false), true),
            (json(ctx, Check::Compare(Op::Lt, n(32_000.0)), false), false),
            (json(ctx, Check::Compare(Op::Le, n(32_000.0)), false), true),
            (json(ctx, Check::Compare(Op::Le, n(31_999.0)), false), false),
            (json(ctx, Check::Compare(Op::Gt, n(255_999.0)), false), true),
            (
                json(ctx, Check::Compare(Op::Gt, n(256_000.0)), false),
                false,
            ),
            (json(ctx, Check::Compare(Op::Ge, n(256_000.0)), false), true),
            (
                json(ctx, Check::Compare(Op::Ge, n(256_001.0)), false),
                false,
            ),
            (
                json(
                    "$.data[0].id",
                    Check::Matches(regex::Regex::new("^codestral-").unwrap()),
                    false,
                ),
                true,
            ),
            (
                json(
                    "$.data[0].id",
                    Check::Matches(regex::Regex::new("^mistral-").unwrap()),
                    false,
                ),
                false,
            ),
            (
                json("$.data[?@.id == 'codestral-latest']", Check::Exists, false),
                true,
            ),
            (
                json("$.data[?@.id == 'pixtral']", Check::Exists, false),
                false,
            ),
            (json("$.error", Check::Absent, false), true),
            (json("$.object", Check::Absent, false), false),
            (
                json(
                    "$.data[*].id",
                    Check::In(vec![t("a"), t("codestral-latest")]),
                    false,
                ),
                true,
            ),
            (
                json("$.data[*].id", Check::In(vec![t("a"), t("b")]), false),
                false,
            ),
        ];
        for (a, want) in cases {
            assert_eq!(passes(&a), want, "{a}");
        }
    }

    #[test]
    fn any_needs_one_node_all_needs_every_node() {
        let check = || Check::Compare(Op::Ge, Expected::Number(100_000.0));
        let path = "$.data[*].max_context_length";
        assert!(passes(&json(path, check(), false)));
        let all = json(path, check(), true);
        let failures = run(&all, MODELS);
        assert_eq!(failures.len(), 1);
        assert_eq!(
            failures[0].detail,
            "assert #1 ($.data[*].max_context_length ge 100000 (all)): found 1 of 2 not passing: 32000"
        );
        // Nothing selected fails either way, but `absent`.
        for all in [false, true] {
            let a = json(
                "$.nope[*]",
                Check::Compare(Op::Eq, Expected::Number(1.0)),
                all,
            );
            assert_eq!(
                run(&a, MODELS)[0].detail.rsplit(": ").next(),
                Some("nothing selected")
            );
        }
    }

    #[test]
    fn headers_status_body_and_latency() {
        let on = |subject: Subject, check: Check| Assertion {
            index: 2,
            subject,
            check,
            all: false,
            warning: true,
        };
        let header = || Subject::Header("x-ratelimit-limit".to_string());
        // Header values compare as numbers; any of its values may pass.
        assert!(passes(&on(
            header(),
            Check::Compare(Op::Ge, Expected::Number(1000.0))
        )));
        assert!(!passes(&on(
            header(),
            Check::Compare(Op::Gt, Expected::Number(5000.0))
        )));
        assert!(passes(&on(
            header(),
            Check::Compare(Op::Eq, Expected::Number(60.0))
        )));
        let missing = on(Subject::Header("retry-after".into()), Check::Exists);
        let f = run(&missing, MODELS);
        assert_eq!(f[0].kind, FailureKind::AssertionWarning);
        assert_eq!(
            f[0].detail,
            "assert #2 (header retry-after exists): nothing selected"
        );
        assert!(passes(&on(
            Subject::Status,
            Check::In(vec![Expected::Number(200.0), Expected::Number(204.0)])
        )));
        assert!(!passes(&on(
            Subject::Status,
            Check::Compare(Op::Eq, Expected::Number(204.0))
        )));
        let list = regex::Regex::new(r#""object":\s*"list""#).unwrap();
        assert!(passes(&on(Subject::Body, Check::Matches(list))));
        assert!(passes(&on(
            Subject::LatencyMs,
            Check::Compare(Op::Lt, Expected::Number(800.0))
        )));
        assert!(!passes(&on(
            Subject::LatencyMs,
            Check::Compare(Op::Lt, Expected::Number(400.0))
        )));
    }

    #[test]
    fn a_body_that_is_not_json_or_was_cut_is_said_so() {
        let a = json(
            "$.object",
            Check::Compare(Op::Eq, Expected::Text("list".into())),
            false,
        );
        let f = run(&a, b"<html>bad gateway</html>");
        assert!(
            f[0].detail.contains("the body is not JSON"),
            "{}",
            f[0].detail
        );
        let cut = judge(
            std::slice::from_ref(&a),
            &Answer {
                status: 200,
                headers: &[],
                body: &MODELS[..20],
                truncated: true,
                latency: Duration::ZERO,
            },
            str::to_string,
        );
        assert_eq!(cut[0].kind, FailureKind::BodyTooLarge);
        assert!(cut[0].detail.contains("not judged"), "{}", cut[0].detail);
    }

    #[test]
    fn long_findings_are_cut_and_secrets_redacted() {
        let body = format!(
            r#"{{"token":"sk-secret","items":[{}]}}"#,
            vec!["\"x\""; 400].join(",")
        );
        let a = json(
            "$..*",
            Check::Compare(Op::Eq, Expected::Text("nope".into())),
            false,
        );
        let f = judge(
            std::slice::from_ref(&a),
            &Answer {
                status: 200,
                headers: &[],
                body: body.as_bytes(),
                truncated: false,
                latency: Duration::ZERO,
            },
            |s| s.replace("sk-secret", "***"),
        );
        assert!(
            f[0].detail.chars().count() <= DETAIL_CHARS,
            "{}",
            f[0].detail
        );
        assert!(!f[0].detail.contains("sk-secret"), "{}", f[0].detail);
        assert!(f[0].detail.contains("(+"), "{}", f[0].detail);
    }
}
