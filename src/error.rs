//! The connector's error type: a category the host can act on, and one line for the user.

use std::fmt;

/// Mirrors the WIT `error-category`, so the pure logic builds without bindings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Config,
    Auth,
    RateLimit,
    Transient,
    Api,
    Internal,
}

/// Mirrors the WIT `document`: which input an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    Config,
    Catalog,
    State,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub category: Category,
    pub message: String,
    /// The document at fault, so hosts need not parse the message.
    pub document: Option<Document>,
    /// The HTTP status and Intercom error code behind an API error, for
    /// callers that treat some (404, 410, `scroll_exists`) specially.
    pub status: Option<u16>,
    pub code: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(category: Category, message: impl Into<String>) -> Self {
        Self {
            category,
            message: message.into(),
            document: None,
            status: None,
            code: None,
        }
    }

    /// The input `document` is invalid.
    pub fn invalid(document: Document, message: impl Into<String>) -> Self {
        Self {
            document: Some(document),
            ..Self::new(Category::Config, message)
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::invalid(Document::Config, message)
    }

    pub fn catalog(message: impl Into<String>) -> Self {
        Self::invalid(Document::Catalog, message)
    }

    pub fn state(message: impl Into<String>) -> Self {
        Self::invalid(Document::State, message)
    }

    pub fn api(message: impl Into<String>) -> Self {
        Self::new(Category::Api, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Category::Internal, message)
    }

    /// The token may not read this endpoint: 403 (a missing permission,
    /// `api_plan_restricted`), or 401 `token_unauthorized`, Intercom's answer
    /// to a missing scope (a bad token gets `unauthorized`).
    pub fn is_refusal(&self) -> bool {
        self.status == Some(403)
            || (self.status == Some(401) && self.code.as_deref() == Some("token_unauthorized"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} error: {}", self.category, self.message)
    }
}
