//! The one input error every domain shares: which request value is wrong and why.
//!
//! Domain modules return it inside their own error enums (`AnalysisError::Invalid`,
//! `OrgError::Invalid`); the HTTP layer turns it into a 400 naming the field
//! (`crate::http::error::ApiError`), the CLI prints it, and start-up names the setting.
//! This module knows nothing of HTTP.

/// A request value that is wrong: `field` is its name as the caller wrote it (`from_date`,
/// `notifications[0].url`, a setting such as `START_DATE`), `message` says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
