//! A refused form on an item page, kept: the page is shown again with the reason at the form
//! and what was typed in its fields (issue 29: a refusal never loses what was typed).

use axum::http::StatusCode;

/// A refused form on the item page: which form, why (in Danish), what was typed, and the
/// status to answer with. The page is shown again with the reason at the form and the text
/// in its fields (issue 29: a refusal never loses what was typed).
pub struct Kept {
    pub status: StatusCode,
    pub form: &'static str,
    pub error: String,
    values: Vec<(&'static str, String)>,
}

impl Kept {
    pub fn new(
        form: &'static str,
        values: impl IntoIterator<Item = (&'static str, String)>,
    ) -> Kept {
        Kept {
            status: StatusCode::OK,
            form,
            error: String::new(),
            values: values.into_iter().collect(),
        }
    }

    /// The same, refused with `status` and `error`.
    pub fn refused(mut self, status: StatusCode, error: impl Into<String>) -> Kept {
        self.status = status;
        self.error = error.into();
        self
    }

    /// What was typed into `field` of `form`, when that form was the one refused.
    pub fn get(&self, form: &str, field: &str) -> &str {
        match self.form == form {
            true => (self.values.iter())
                .find(|(f, _)| *f == field)
                .map_or("", |(_, v)| v.as_str()),
            false => "",
        }
    }

    /// The refusal, when `form` was the one refused.
    pub fn error(&self, form: &str) -> Option<&str> {
        (self.form == form && !self.error.is_empty()).then_some(self.error.as_str())
    }
}
