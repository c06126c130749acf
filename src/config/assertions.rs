//! `[[target.assert]]`: each table validated into a [`crate::probe::assert::Assertion`],
//! every mistake pointed at its key with what would be right (a JSONPath error names its
//! position, an unknown operator the nearest one, a value the type its operator takes).

use toml::Spanned;

use super::error::suggest;
use super::raw::RawAssert;
use super::validate::Validator;
use crate::probe::assert::{Assertion, Check, Expected, Op, Subject};

/// Operator names, for messages and suggestions.
const OPS: [&str; 9] = [
    "eq", "ne", "lt", "le", "gt", "ge", "matches", "exists", "absent",
];

/// How other tools spell our operators, for the suggestion.
const ALIASES: [(&str, &str); 13] = [
    ("gte", "ge"),
    ("lte", "le"),
    (">=", "ge"),
    ("<=", "le"),
    (">", "gt"),
    ("<", "lt"),
    ("==", "eq"),
    ("=", "eq"),
    ("!=", "ne"),
    ("equals", "eq"),
    ("regex", "matches"),
    ("contains", "matches"),
    ("present", "exists"),
];

impl Validator<'_> {
    /// Every assertion of a target, or None when one is wrong (all are reported).
    pub(super) fn assertions(
        &mut self,
        ctx: &str,
        raw: &Option<Spanned<Vec<Spanned<RawAssert>>>>,
    ) -> Option<Vec<Assertion>> {
        let Some(list) = raw else {
            return Some(Vec::new());
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in list.get_ref().iter().enumerate() {
            let ctx = format!("{ctx}: assert #{}", i + 1);
            match self.assertion(&ctx, i + 1, item) {
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn assertion(
        &mut self,
        ctx: &str,
        index: usize,
        item: &Spanned<RawAssert>,
    ) -> Option<Assertion> {
        let r = item.get_ref();
        let here = item.span();
        let subject = match (&r.json, &r.header, &r.on) {
            (Some(p), None, None) => {
                let text = p.get_ref().trim().to_string();
                match serde_json_path::JsonPath::parse(&text) {
                    Ok(path) => Subject::Json(path, text),
                    Err(e) => {
                        self.d.push(
                            p.span(),
                            ctx,
                            format!(
                                "json: {text:?} is not a JSONPath (RFC 9535): {} at character {}; paths start at the root, e.g. \"$.data[*].id\" or \"$.data[?@.id == 'codestral-latest']\"",
                                e.message(),
                                e.position()
                            ),
                        );
                        return None;
                    }
                }
            }
            (None, Some(h), None) => {
                let name = h.get_ref().trim().to_ascii_lowercase();
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    self.d.push(
                        h.span(),
                        ctx,
                        format!("header: {name:?} is not a header name"),
                    );
                    return None;
                }
                Subject::Header(name)
            }
            (None, None, Some(on)) => match on.get_ref().as_str() {
                "status" => Subject::Status,
                "body" => Subject::Body,
                "latency_ms" => Subject::LatencyMs,
                other => {
                    self.d.push(
                        on.span(),
                        ctx,
                        format!("on: {other:?} is not one of status | body | latency_ms (for the body's JSON use json = \"$...\", for a header header = \"name\")"),
                    );
                    return None;
                }
            },
            _ => {
                self.d.push(
                    here,
                    ctx,
                    "give exactly one of json = \"$.path\", header = \"name\" or on = \"status\" | \"body\" | \"latency_ms\"",
                );
                return None;
            }
        };
        let all = match &r.match_ {
            None => false,
            Some(m) => match m.get_ref().as_str() {
                "any" => false,
                "all" => true,
                other => {
                    self.d.push(
                        m.span(),
                        ctx,
                        format!("match: {other:?} is not one of any | all"),
                    );
                    return None;
                }
            },
        };
        let warning = match &r.severity {
            None => false,
            Some(s) => match s.get_ref().as_str() {
                "critical" => false,
                "warning" => true,
                other => {
                    self.d.push(
                        s.span(),
                        ctx,
                        format!("severity: {other:?} is not one of critical | warning"),
                    );
                    return None;
                }
            },
        };
        let check = self.check(ctx, here, r, &subject)?;
        Some(Assertion {
            index,
            subject,
            check,
            all,
            warning,
        })
    }

    fn check(
        &mut self,
        ctx: &str,
        here: std::ops::Range<usize>,
        r: &RawAssert,
        subject: &Subject,
    ) -> Option<Check> {
        if let Some(list) = &r.one_of {
            if let Some(op) = &r.op {
                self.d.push(
                    op.span(),
                    ctx,
                    "op: not with `in` (in = [...] already means \"equal to one of\")",
                );
                return None;
            }
            let mut values = Vec::new();
            for v in list.get_ref() {
                values.push(self.expected(ctx, v, false)?);
            }
            if values.is_empty() {
                self.d.push(
                    list.span(),
                    ctx,
                    "in: give at least one value, e.g. in = [200, 204]",
                );
                return None;
            }
            return self.fitting(ctx, list.span(), subject, Check::In(values));
        }
        let Some(op) = &r.op else {
            self.d.push(
                here,
                ctx,
                format!("op: missing; one of {}, or in = [...]", OPS.join(" ")),
            );
            return None;
        };
        let name = op.get_ref().trim();
        let needs_value = !matches!(name, "exists" | "absent");
        match (&r.value, needs_value) {
            (Some(v), false) => {
                self.d
                    .push(v.span(), ctx, format!("value: {name} takes no value"));
                return None;
            }
            (None, true) if OPS.contains(&name) => {
                self.d.push(
                    op.span(),
                    ctx,
                    format!("value: missing; {name} compares with one"),
                );
                return None;
            }
            _ => {}
        }
        let check = match name {
            "exists" => Check::Exists,
            "absent" => Check::Absent,
            "matches" => {
                let v = r.value.as_ref()?;
                let Some(pattern) = v.get_ref().as_str() else {
                    self.d.push(
                        v.span(),
                        ctx,
                        "value: matches takes a regular expression, as a string",
                    );
                    return None;
                };
                match regex::RegexBuilder::new(pattern)
                    .size_limit(1 << 20)
                    .build()
                {
                    Ok(re) => Check::Matches(re),
                    Err(e) => {
                        let why = e.to_string();
                        let last = why.lines().last().unwrap_or("invalid").trim();
                        self.d.push(
                            v.span(),
                            ctx,
                            format!("value: {pattern:?} is not a regular expression: {last}"),
                        );
                        return None;
                    }
                }
            }
            other => match Op::NAMES.iter().find(|(n, _)| *n == other) {
                Some((_, op_)) => {
                    let v = r.value.as_ref()?;
                    Check::Compare(*op_, self.expected(ctx, v, op_.orders())?)
                }
                None => {
                    let hint = match ALIASES
                        .iter()
                        .find(|(alias, _)| *alias == other)
                        .map(|(_, op)| *op)
                        .or_else(|| suggest(other, &OPS))
                    {
                        Some(s) => format!(" (did you mean {s:?}?)"),
                        None => String::new(),
                    };
                    self.d.push(
                        op.span(),
                        ctx,
                        format!("op: {other:?} is not one of {}{hint}", OPS.join(" ")),
                    );
                    return None;
                }
            },
        };
        // What each subject can be asked.
        self.fitting(ctx, op.span(), subject, check)
    }

    /// `check`, when `subject` can be asked it (`at` is blamed otherwise).
    fn fitting(
        &mut self,
        ctx: &str,
        at: std::ops::Range<usize>,
        subject: &Subject,
        check: Check,
    ) -> Option<Check> {
        let numeric = match &check {
            Check::Compare(_, Expected::Number(_)) => true,
            Check::In(vs) => vs.iter().all(|v| matches!(v, Expected::Number(_))),
            _ => false,
        };
        let fits = match subject {
            Subject::Json(..) | Subject::Header(_) => true,
            Subject::Status | Subject::LatencyMs => numeric,
            Subject::Body => matches!(check, Check::Matches(_)),
        };
        if fits {
            return Some(check);
        }
        let what = match subject {
            Subject::Body => "on = \"body\" takes op = \"matches\" with a regular expression",
            _ => "on = \"status\" and on = \"latency_ms\" take a comparison with a number, or in = [...] of numbers",
        };
        self.d.push(at, ctx, what);
        None
    }

    /// A value to compare with; `number` when the operator orders.
    fn expected(&mut self, ctx: &str, v: &Spanned<toml::Value>, number: bool) -> Option<Expected> {
        let e = match v.get_ref() {
            toml::Value::Integer(i) => Expected::Number(*i as f64),
            toml::Value::Float(f) => Expected::Number(*f),
            toml::Value::String(s) if !number => Expected::Text(s.clone()),
            toml::Value::Boolean(b) if !number => Expected::Bool(*b),
            other => {
                let want = if number {
                    "a number (lt, le, gt and ge order numbers)"
                } else {
                    "a string, a number or a boolean"
                };
                self.d.push(
                    v.span(),
                    ctx,
                    format!("value: expected {want}, found {}", other.type_str()),
                );
                return None;
            }
        };
        Some(e)
    }
}
