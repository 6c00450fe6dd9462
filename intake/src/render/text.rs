//! Small text helpers for terminal output.

/// An optional value, `-` when absent.
pub fn or_dash<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".into(), |v| v.to_string())
}
