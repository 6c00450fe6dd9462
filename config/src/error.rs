//! The one error type of this crate: every variant names the file, and the line where known.

use std::path::PathBuf;

/// A configuration problem, worded so that an administrator knows what to change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<ConfigError>),
}

impl ConfigError {
    /// Builds a `Syntax` error from a toml error, turning its byte span into line and column.
    pub(crate) fn from_toml(file: &std::path::Path, text: &str, err: toml::de::Error) -> Self {
        let (line, column) = err
            .span()
            .map(|s| line_col(text, s.start))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            file: file.to_path_buf(),
            line,
            column,
            message: err.message().trim().to_string(),
        }
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// 1-based line of the first line that defines `key = "value"` (or `key = value`), used to
/// point validation errors (which toml cannot place) at the right line.
pub(crate) fn line_of(text: &str, key: &str, value: &str) -> usize {
    line_of_nth(text, key, value, 0)
}

/// The line of the `n`-th (from 0) `key = value`, for reporting a repeat where it is.
pub(crate) fn line_of_nth(text: &str, key: &str, value: &str, n: usize) -> usize {
    let quoted = format!("\"{value}\"");
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start();
            l.starts_with(key)
                && l[key.len()..].trim_start().starts_with('=')
                && (l.contains(&quoted) || l.trim_end().ends_with(value))
        })
        .nth(n)
        .map_or(1, |(i, _)| i + 1)
}

pub(crate) fn invalid(file: &std::path::Path, line: usize, message: String) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_path_buf(),
        line,
        message,
    }
}
