//! The errors of a command, split the way its exit codes are: bad input
//! (naming the document to blame, or the arguments) or a failed run.

use std::fmt;
use std::path::Path;

use crate::bindings::connector::source::types::Document as Blamed;
use crate::bindings::{ConnectorError, ErrorCategory};

/// A document a run is given, which an error may blame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Document {
    Config,
    State,
    Catalog,
    Component,
    Database,
}

impl Document {
    /// The command-line flag that names it.
    pub fn flag(self) -> &'static str {
        match self {
            Document::Config => "--config",
            Document::State => "--state",
            Document::Catalog => "--catalog",
            Document::Component => "--component",
            Document::Database => "--database",
        }
    }
}

#[derive(Debug)]
pub enum Error {
    /// A document is missing, unreadable or invalid.
    Input { document: Document, message: String },
    /// The arguments are missing, contradict each other or name nothing.
    Usage(String),
    /// The run itself failed.
    Run(String),
}

impl Error {
    /// `{flag} {path}: {problem}`.
    pub fn invalid(document: Document, path: &Path, problem: impl fmt::Display) -> Self {
        Error::Input {
            document,
            message: format!("{} {}: {problem}", document.flag(), path.display()),
        }
    }

    /// 2 for bad input, 1 for a failed run.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input { .. } | Error::Usage(_) => 2,
            Error::Run(_) => 1,
        }
    }

    /// The document to blame, if the error is about one.
    pub fn document(&self) -> Option<Document> {
        match self {
            Error::Input { document, .. } => Some(*document),
            Error::Usage(_) | Error::Run(_) => None,
        }
    }
}

/// The one-line message.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input { message, .. } | Error::Usage(message) | Error::Run(message) => {
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<wasmtime::Error> for Error {
    fn from(e: wasmtime::Error) -> Self {
        Error::Run(format!("{e:#}"))
    }
}

/// The documents of one export call, for the errors the connector reports
/// about them.
pub struct Documents<'a> {
    pub config: &'a Path,
    pub catalog: Option<&'a Path>,
    /// Where the state came from: its file, or the database a sync keeps it in.
    pub state: Option<(Document, &'a Path)>,
}

impl<'a> Documents<'a> {
    /// Just the config, for the calls that take nothing else.
    pub fn config(config: &'a Path) -> Self {
        Self {
            config,
            catalog: None,
            state: None,
        }
    }

    /// A config error names the file it blames (the config when the one it
    /// is about was not given) and is bad input; other errors fail the run.
    pub fn connector_error(&self, e: ConnectorError) -> Error {
        if e.category != ErrorCategory::Config {
            return Error::Run(format!("{} error: {}", e.category, e.message));
        }
        let (document, path) = match e.document {
            Some(Blamed::Catalog) => self.catalog.map(|p| (Document::Catalog, p)),
            Some(Blamed::State) => self.state,
            Some(Blamed::Config) | None => None,
        }
        .unwrap_or((Document::Config, self.config));
        Error::Input {
            document,
            message: format!("{}: {}", path.display(), e.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(message: &str, document: Option<Blamed>) -> ConnectorError {
        ConnectorError {
            category: ErrorCategory::Config,
            message: message.into(),
            document,
        }
    }

    #[test]
    fn a_config_error_blames_the_document_it_names_when_given() {
        let documents = Documents {
            config: Path::new("c.json"),
            catalog: Some(Path::new("cat.json")),
            state: Some((Document::Database, Path::new("i.db"))),
        };
        let blamed = |message, document| {
            let e = documents.connector_error(config_error(message, document));
            (e.document(), e.to_string(), e.exit_code())
        };
        assert_eq!(
            blamed("catalog: no streams", Some(Blamed::Catalog)),
            (
                Some(Document::Catalog),
                "cat.json: catalog: no streams".into(),
                2
            )
        );
        assert_eq!(
            blamed("version 9", Some(Blamed::State)),
            (Some(Document::Database), "i.db: version 9".into(), 2)
        );
        assert_eq!(
            blamed("config: field", Some(Blamed::Config)),
            (Some(Document::Config), "c.json: config: field".into(), 2)
        );
        // The message no longer decides: only the field does.
        assert_eq!(
            blamed("catalog: named in text only", None),
            (
                Some(Document::Config),
                "c.json: catalog: named in text only".into(),
                2
            )
        );
        let alone = Documents::config(Path::new("c.json"));
        let e = alone.connector_error(config_error("bad", Some(Blamed::State)));
        assert_eq!(e.document(), Some(Document::Config));
        let e = alone.connector_error(ConnectorError {
            category: ErrorCategory::Auth,
            message: "401".into(),
            document: None,
        });
        assert_eq!(
            (e.to_string().as_str(), e.exit_code()),
            ("auth error: 401", 1)
        );
    }
}
