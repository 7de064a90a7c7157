//! Located errors: every problem in a file names the file, line, column and
//! field, and says what would be right.

use std::fmt;
use std::ops::Range;

/// A problem at a place in a fleet or scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file, as the user named it (or `<embedded>/name` for built-ins).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The field at fault (`server[2].backup`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What would be right.
    pub hint: Option<String>,
    /// The offending source line, for display.
    pub source_line: Option<String>,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {:>col$}",
                "",
                self.line,
                src,
                "",
                "^",
                col = self.column
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileError {}

/// Why a fleet or scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is wrong at a known place.
    #[error("{0}")]
    File(Box<FileError>),
}

impl From<Box<FileError>> for LoadError {
    fn from(e: Box<FileError>) -> Self {
        LoadError::File(e)
    }
}

/// A file's text with its name, to turn byte spans into located errors.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// The name shown in errors.
    pub name: &'a str,
    /// The whole text.
    pub text: &'a str,
}

impl Source<'_> {
    /// Builds an error at `span` about `field`.
    pub fn error(
        &self,
        span: Range<usize>,
        field: Option<&str>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Box<FileError> {
        let (line, column) = self.line_col(span.start);
        let source_line = self.text.lines().nth(line - 1).map(str::to_string);
        Box::new(FileError {
            file: self.name.to_string(),
            line,
            column,
            field: field.map(str::to_string),
            message: message.into(),
            hint,
            source_line,
        })
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = self.text[line_start..offset].chars().count() + 1;
        (line, column)
    }

    /// Converts a TOML syntax or shape error into a located error.
    pub fn toml_error(&self, e: &toml::de::Error) -> Box<FileError> {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        let field = self.key_at(span.clone());
        let hint = hint_for(&message);
        self.error(span, field.as_deref(), message, hint)
    }

    /// The key written at a span, when the span covers a `key = ...` pair.
    fn key_at(&self, span: Range<usize>) -> Option<String> {
        let text = self.text.get(span)?;
        let key: String = text
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let rest = text[key.len()..].trim_start();
        (!key.is_empty() && rest.starts_with('=')).then_some(key)
    }
}

fn hint_for(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some("remove the key or fix its spelling; the keys allowed here are listed above".into())
    } else if message.starts_with("missing field") {
        Some("add the key; see docs/file-format.md for every key and its default".into())
    } else {
        None
    }
}
