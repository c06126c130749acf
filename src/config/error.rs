//! Config diagnostics: every problem names the file, line, column and key path.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One problem found in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    /// 1-based line; 0 when the value came from an environment variable.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Where in the document: `daemon`, `target "mistral-models"`, `target #3`.
    pub context: String,
    /// What is wrong and, where it helps, what would be right.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            // Not from the file: an environment variable, named in `file`.
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        }
        if !self.context.is_empty() {
            write!(f, "{}: ", self.context)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("{}: cannot read config file: {source}", path.display())]
    Read {
        /// The path tried.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file was read; these problems were found (all of them, sorted by position).
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
}

impl ConfigError {
    /// The individual problems (empty for a read error).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid(d) => d,
        }
    }
}

fn render(diags: &[Diagnostic]) -> String {
    let mut out = diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    if diags.len() > 1 {
        out.push_str(&format!("\n{} errors in config", diags.len()));
    }
    out
}

/// Collects diagnostics against one source text.
pub(crate) struct Diagnostics<'a> {
    file: String,
    lines: LineIndex<'a>,
    items: Vec<(usize, Diagnostic)>,
}

impl<'a> Diagnostics<'a> {
    pub(crate) fn new(file: String, text: &'a str) -> Self {
        Diagnostics {
            file,
            lines: LineIndex::new(text),
            items: Vec::new(),
        }
    }

    /// Records a problem at byte range `span` of the text.
    pub(crate) fn push(&mut self, span: Range<usize>, context: &str, message: impl Into<String>) {
        let (line, column) = self.lines.line_col(span.start);
        self.items.push((
            span.start,
            Diagnostic {
                file: self.file.clone(),
                line,
                column,
                context: context.to_string(),
                message: message.into(),
            },
        ));
    }

    /// Records a problem with the value of environment variable `var` (no line to name).
    pub(crate) fn push_env(&mut self, var: &str, context: &str, message: impl Into<String>) {
        self.items.push((
            usize::MAX,
            Diagnostic {
                file: format!("environment variable {var}"),
                line: 0,
                column: 0,
                context: context.to_string(),
                message: message.into(),
            },
        ));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// All problems in file order.
    pub(crate) fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|(pos, _)| *pos);
        self.items.dedup_by(|a, b| a.1 == b.1);
        self.items.into_iter().map(|(_, d)| d).collect()
    }
}

/// Where each line of a text starts, so a byte offset becomes a line and column in
/// O(log lines): a config with 50,000 targets asks once per target, and scanning the text
/// from its start each time made loading quadratic (94 s for 50,000 targets).
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    /// 1-based line and column of byte offset `pos` (clamped to the text).
    pub(crate) fn line_col(&self, pos: usize) -> (usize, usize) {
        let text = self.text;
        let mut pos = pos.min(text.len());
        while !text.is_char_boundary(pos) {
            pos -= 1;
        }
        // The last line start at or before pos.
        let line = self.starts.partition_point(|&s| s <= pos);
        let line_start = self.starts[line - 1];
        let column = text[line_start..pos].chars().count() + 1;
        (line, column)
    }
}

impl Diagnostics<'_> {
    /// 1-based line and column of byte offset `pos` in the text.
    pub(crate) fn line_col(&self, pos: usize) -> (usize, usize) {
        self.lines.line_col(pos)
    }
}

/// The known key closest to `unknown`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (unknown.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (levenshtein(&unknown.to_ascii_lowercase(), k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        let index = LineIndex::new(text);
        let line_col = |pos| index.line_col(pos);
        assert_eq!(line_col(0), (1, 1));
        assert_eq!(line_col(6), (2, 1));
        assert_eq!(line_col(9), (2, 4));
        assert_eq!(line_col(999), (3, 1));
    }

    #[test]
    fn suggestions_catch_typos_not_strangers() {
        let known = ["interval", "timeout", "url", "name"];
        assert_eq!(suggest("intervall", &known), Some("interval"));
        assert_eq!(suggest("timout", &known), Some("timeout"));
        assert_eq!(suggest("URL", &known), Some("url"));
        assert_eq!(suggest("colour", &known), None);
    }
}
