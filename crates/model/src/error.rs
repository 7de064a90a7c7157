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
            let (shown, caret) = window(src, self.column);
            let gutter = self.line.to_string().len();
            write!(
                f,
                "\n{:gutter$} |\n{} | {}\n{:gutter$} | {}^",
                "",
                self.line,
                shown,
                "",
                " ".repeat(caret)
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileError {}

/// Where a value was written, kept to locate an error found only after
/// loading (a run mode that cannot serve the value, say). Not part of the
/// value: any two places compare equal, so the same fleet read from two
/// paths is the same fleet.
#[derive(Clone, Debug, Default)]
pub struct Place(Option<Box<FileError>>);

impl PartialEq for Place {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Place {}

impl Place {
    /// The place of `span` in `src`, naming `field`.
    pub fn new(src: &Source<'_>, span: Range<usize>, field: &str) -> Place {
        Place(Some(src.error(span, Some(field), "", None)))
    }

    /// `message` (and `hint`) shown as an error at this place; a value
    /// built in code, not read from a file, has no place to name.
    pub fn say(&self, message: impl Into<String>, hint: Option<String>) -> String {
        let message = message.into();
        match &self.0 {
            Some(at) => FileError {
                message,
                hint,
                ..(**at).clone()
            }
            .to_string(),
            None => match hint {
                Some(h) => format!("{message}\n  = hint: {h}"),
                None => message,
            },
        }
    }
}

/// The most characters of a source line shown under an error; longer lines
/// are cut to a window around the column, with `…` where text is left out.
pub const SNIPPET_WIDTH: usize = 100;

/// The part of `line` shown for an error at 1-based `column` (counted in
/// characters), and how many characters precede the caret in it.
fn window(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    if chars.len() <= SNIPPET_WIDTH {
        return (line.to_string(), at);
    }
    let half = SNIPPET_WIDTH / 2;
    let start = at.saturating_sub(half).min(chars.len() - SNIPPET_WIDTH);
    let end = start + SNIPPET_WIDTH;
    let mut shown = String::new();
    let mut caret = at - start;
    if start > 0 {
        shown.push('…');
        caret += 1;
    }
    shown.extend(&chars[start..end]);
    if end < chars.len() {
        shown.push('…');
    }
    (shown, caret)
}

/// `text` cut to at most `max` bytes (on a character boundary), with `…`
/// when anything was left out: for transports that cap message length.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

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
        // Shown on a terminal: a control character in it is shown, not sent.
        let source_line = (self.text.lines().nth(line - 1)).map(|l| {
            l.chars()
                .map(|c| {
                    if (c.is_control() && c != '\t') || is_bidi_control(c) {
                        '\u{fffd}'
                    } else {
                        c
                    }
                })
                .collect()
        });
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
        let message = plain_words(e.message().trim());
        let unknown = message
            .strip_prefix("unknown field `")
            .and_then(|m| m.split('`').next())
            .map(str::to_string);
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            let field = self.missing_path(span.start, missing);
            let hint = hint_for(&message);
            return self.error(span, Some(&field), message.clone(), hint);
        }
        let field = (self.key_at(span.clone()))
            .or_else(|| self.key_before(span.start))
            .or(unknown)
            .or_else(|| self.key_of_line(span.start))
            .map(|key| self.path_to(span.start, &key));
        let mut hint = hint_for(&message);
        // Only a seed has a way round TOML's integer range.
        if field.as_deref() == Some("seed")
            && let Some(h) = hint.as_mut()
            && message.starts_with("the number is too large")
        {
            h.push_str("; a larger seed can be given with --seed");
        }
        self.error(span, field.as_deref(), message, hint)
    }

    /// The full name of a key missing from the table whose span starts at
    /// `start`: that table's path (a `[[fault]]` header included), then the
    /// key, never a key that is there.
    fn missing_path(&self, start: usize, key: &str) -> String {
        let rest = self.text.get(start..).unwrap_or_default();
        if rest.trim_start().starts_with('[') && !rest.trim_start().starts_with("[[[") {
            let after = rest.find('\n').map_or(self.text.len(), |i| start + i + 1);
            if let Some(table) = self.table_at(after) {
                return format!("{table}.{key}");
            }
        }
        if start == 0 {
            return key.to_string();
        }
        self.path_to(start, key)
    }

    /// The full name of `key` written at `offset`, as other errors name
    /// fields: its table (`fault[0]`, with the index of an array table),
    /// then each inline table it sits in (`latency.delay`).
    fn path_to(&self, offset: usize, key: &str) -> String {
        let before = self.text.get(..offset).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        // A key in a table header (`[[expects]]`, `[fleet.timerz]`) is that
        // table's name, not a field of the table before it.
        let line = self.text[line_start..].lines().next().unwrap_or_default();
        if let Some(header) = (header_line(line).is_some())
            .then(|| before[line_start..].trim_start().trim_start_matches('['))
        {
            let mut path: Vec<String> = (header.split('.'))
                .map(|k| k.trim().trim_matches('"').to_string())
                .filter(|k| !k.is_empty())
                .collect();
            path.push(key.to_string());
            return path.join(".");
        }
        let mut path: Vec<String> = self.table_at(line_start).into_iter().collect();
        path.extend(inline_keys(&before[line_start..]));
        if path.last().map(String::as_str) != Some(key) {
            path.push(key.to_string());
        }
        path.join(".")
    }

    /// The `[table]` or `[[array]]` (as `array[N]`) whose lines include the
    /// line starting at `line_start`; `None` at the top level.
    fn table_at(&self, line_start: usize) -> Option<String> {
        let header = header_line;
        let above = self.text.get(..line_start).unwrap_or_default();
        let current = above.lines().rev().find_map(header)?;
        let name = current.as_str();
        if let Some(array) = name.strip_prefix("[[").and_then(|n| n.strip_suffix("]]")) {
            let array = array.trim();
            let index = above
                .lines()
                .filter_map(header)
                .filter(|h| {
                    // `header` gave each line without its comment, trimmed.
                    h.strip_prefix("[[")
                        .and_then(|n| n.strip_suffix("]]"))
                        .is_some_and(|n| n.trim() == array)
                })
                .count()
                - 1;
            return Some(format!("{array}[{index}]"));
        }
        name.strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .map(|n| n.trim().to_string())
    }

    /// Where the value of `key` is written in the table at `table` (a
    /// `[table]` and the lines under it, or an inline `{ … }`), so an error
    /// about it points at it; the table itself when the key is not written
    /// there (a default).
    pub fn value_span(&self, table: Range<usize>, key: &str) -> Range<usize> {
        let Some(rest) = self.text.get(table.start..) else {
            return table;
        };
        // An inline table: within its braces; a table: up to the next header.
        let body = if rest.starts_with('{') {
            &rest[..(table.end - table.start).min(rest.len())]
        } else {
            let first = rest.find('\n').map_or(rest.len(), |n| n + 1);
            let next = rest[first..]
                .match_indices('\n')
                .map(|(n, _)| first + n + 1)
                .find(|&n| rest[n..].trim_start().starts_with('['))
                .unwrap_or(rest.len());
            &rest[..next]
        };
        let mut from = 0;
        while let Some(n) = body[from..].find(key) {
            let at = from + n;
            // A key starts its line or follows `{` or `,`; never in a comment.
            let line = &body[body[..at].rfind('\n').map_or(0, |l| l + 1)..at];
            let lead = line.trim_end();
            let keyed = !line.contains('#') && (lead.is_empty() || lead.ends_with(['{', ',']));
            let after = body[at + key.len()..].trim_start();
            if keyed && let Some(value) = after.strip_prefix('=') {
                let start = table.start + body.len() - value.trim_start().len();
                return start..start + 1;
            }
            from = at + key.len();
        }
        table
    }

    /// The text of `v`, refused if it holds a control character (other
    /// than a tab or a line break; a file saved with CRLF keeps `\r\n` in a
    /// multi-line string): names and descriptions are printed, and such a
    /// character would reach the terminal as a command.
    pub fn printable(
        &self,
        v: &toml::Spanned<String>,
        field: &str,
    ) -> Result<String, Box<FileError>> {
        let bad =
            |c: &char| (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || is_bidi_control(*c);
        match v.get_ref().chars().find(bad) {
            None => Ok(v.get_ref().clone()),
            Some(c) => Err(self.error(
                v.span(),
                Some(field),
                format!("holds the control character {c:?}, which a terminal would act on (or show text out of its order)"),
                Some("write it without control characters".into()),
            )),
        }
    }

    /// The key whose value starts at `start` (`key = ` just before it), for
    /// an error about a value.
    fn key_before(&self, start: usize) -> Option<String> {
        let head = self.text.get(..start)?.trim_end().strip_suffix('=')?;
        let head = head.trim_end();
        let len = head
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .count();
        let key = &head[head.len() - len..];
        (!key.is_empty()).then(|| key.to_string())
    }

    /// The key whose value holds `start` on its line (inside a list, say:
    /// `partition = ["primary"]`), or the key written at `start` itself
    /// (a duplicate key).
    fn key_of_line(&self, start: usize) -> Option<String> {
        let before = self.text.get(..start)?;
        let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
        if let Some(key) = inline_keys(line).pop() {
            return Some(key);
        }
        let at: String = self
            .text
            .get(start..)?
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        (!at.is_empty()).then_some(at)
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

/// The keys of the inline tables still open at the end of `line` (a line's
/// text up to an error): `latency = { target = "x", delay = ` gives
/// `latency`, then `delay` comes from the error itself.
fn inline_keys(line: &str) -> Vec<String> {
    let mut open: Vec<String> = Vec::new();
    let mut key = String::new();
    let mut last_key = String::new();
    let mut quote: Option<char> = None;
    for c in line.chars() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '#' => break,
            '=' => last_key = std::mem::take(&mut key),
            '{' => open.push(std::mem::take(&mut last_key)),
            '}' => {
                open.pop();
                last_key.clear();
            }
            ',' => {
                key.clear();
                last_key.clear();
            }
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => key.push(c),
            _ => {
                if !key.is_empty() && !c.is_whitespace() {
                    key.clear();
                }
            }
        }
    }
    // The key whose value is being read, if the line ends inside a pair.
    if !last_key.is_empty() {
        open.push(last_key);
    }
    open.retain(|k| !k.is_empty());
    open
}

/// serde's message with Rust's type names said as a file's reader knows
/// them: `expected struct PhoneCounts` is "expected a table".
fn plain_words(message: &str) -> String {
    let mut out = message.to_string();
    if let Some(at) = out.find("expected struct ") {
        // The struct's name, and serde's " with N elements" after it.
        let rest = &out[at + "expected struct ".len()..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let mut end = at + "expected struct ".len() + name_len;
        if let Some(tail) = out[end..].strip_prefix(" with ")
            && let Some(n) = tail.find(" element")
        {
            let after = &tail[n + " element".len()..];
            end += " with ".len() + n + " element".len() + usize::from(after.starts_with('s'));
        }
        out.replace_range(at..end, "expected a table (`{ key = value, … }`)");
    }
    // A number past what TOML holds (a 64-bit signed integer).
    if out.contains("as i128") || out.contains("u64 value was too large") {
        return format!(
            "the number is too large: a TOML integer goes up to {}",
            i64::MAX
        );
    }
    for (rust, words) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected a sequence", "expected a list (`[ … ]`)"),
    ] {
        out = out.replace(rust, words);
    }
    out
}

/// The largest value of the unsigned integer serde says it expected.
fn whole_number_max(message: &str) -> Option<&'static str> {
    [
        ("expected u16", "65535"),
        ("expected u32", "4294967295"),
        // What a TOML file holds: its integers stop at i64's largest.
        ("expected u64", "9223372036854775807"),
        ("expected usize", "9223372036854775807"),
    ]
    .into_iter()
    .find(|(t, _)| message.contains(t))
    .map(|(_, max)| max)
}

fn hint_for(message: &str) -> Option<String> {
    if message.starts_with("unknown field") {
        Some(unknown_field_hint(message))
    } else if message.starts_with("unknown variant") {
        Some(unknown_field_hint(message).replace("the keys allowed", "the values allowed"))
    } else if message.contains("invalid type: map, expected a list") {
        Some("this key holds a list: write [[key]], two brackets, for each entry (e.g. [[fault]], [[expect]])".into())
    } else if message.starts_with("the number is too large") {
        Some("write a smaller number, within the limits of docs/file-format.md".into())
    } else if message.starts_with("missing field") {
        Some("add the key; see docs/file-format.md for every key and its default".into())
    } else if let Some(max) = whole_number_max(message) {
        Some(format!(
            "write a whole number from 0 to {max}, without quotes or decimals (docs/file-format.md gives each key's own limits)"
        ))
    } else if message.contains("value was too large") {
        Some("write a whole number, 0 or more, without quotes or decimals, within the limits of docs/file-format.md".into())
    } else {
        None
    }
}

/// A bidirectional-text control (U+202A–U+202E, U+2066–U+2069, U+200E,
/// U+200F, U+061C): printed, it reorders what a reader sees around it.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The hint for serde's "unknown field `x`, expected one of `a`, `b`":
/// the nearest allowed key when the written one looks like a misspelling.
pub(crate) fn unknown_field_hint(message: &str) -> String {
    // Backquoted names: the unknown key first, then the allowed ones.
    let mut names = message.split('`').skip(1).step_by(2);
    let written = names.next().unwrap_or_default();
    let allowed: Vec<&str> = names.collect();
    // `on` names the server in `service` and `state`: elsewhere that key
    // is `server`, however near `on` is to another.
    if written == "on" && allowed.contains(&"server") {
        return "did you mean `server`? the keys allowed here are listed above".into();
    }
    match crate::suggest::nearest(written, allowed) {
        Some(k) => format!("did you mean `{k}`? the keys allowed here are listed above"),
        None => "remove the key or fix its spelling; the keys allowed here are listed above".into(),
    }
}

/// A table header, `[name]` or `[[name]]` alone on its line (a comment
/// aside), trimmed; a line of a multi-line array such as `["a"]` is none.
fn header_line(l: &str) -> Option<String> {
    let l = l.split('#').next().unwrap_or_default().trim();
    let inner = l.trim_start_matches('[').trim_end_matches(']').trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    (l.starts_with('[') && l.ends_with(']') && !inner.is_empty() && inner.chars().all(bare))
        .then(|| l.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_suggests_the_allowed_key_it_was_meant_to_be() {
        let m = "unknown field `sever`, expected one of `event`, `server`, `where`";
        assert_eq!(
            unknown_field_hint(m),
            "did you mean `server`? the keys allowed here are listed above"
        );
        let m = "unknown field `colour`, expected `event` or `server`";
        assert!(unknown_field_hint(m).starts_with("remove the key"));
    }

    fn at(line: &str, column: usize) -> String {
        let e = FileError {
            file: "f.toml".into(),
            line: 1,
            column,
            field: None,
            message: "wrong".into(),
            hint: None,
            source_line: Some(line.into()),
        };
        e.to_string()
    }

    #[test]
    fn an_error_past_column_65535_shows_a_window_with_the_caret_under_it() {
        let line = format!("{}X{}", " ".repeat(70_000), "y".repeat(5_000));
        let shown = at(&line, 70_001);
        let lines: Vec<&str> = shown.lines().collect();
        assert!(lines.iter().all(|l| l.chars().count() < SNIPPET_WIDTH + 10));
        let text: Vec<char> = lines[2].chars().collect();
        let caret = lines[3].chars().position(|c| c == '^').unwrap();
        assert_eq!(text[caret], 'X', "{shown}");
        assert!(lines[2].contains('…'));
    }

    #[test]
    fn a_short_line_is_shown_whole_with_the_caret_at_its_column() {
        let shown = at("seed = x", 8);
        assert!(shown.ends_with("1 | seed = x\n  |        ^"), "{shown}");
    }

    #[test]
    fn a_column_past_the_end_of_the_line_does_not_panic() {
        let shown = at("short", 1_000_000);
        assert!(shown.contains("short"));
    }

    #[test]
    fn truncate_cuts_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 100), "héllo");
        let t = truncate(&"é".repeat(100), 11);
        assert!(t.len() <= 11 && t.ends_with('…'), "{t}");
    }
}
