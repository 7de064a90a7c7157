//! Reading fleet and scenario files: regular files only, at most
//! [`MAX_FILE_BYTES`], UTF-8 (an invalid byte is reported with its offset,
//! line and column).

use std::io::Read as _;
use std::path::Path;

use crate::error::{FileError, LoadError};

/// The largest fleet or scenario file read (1 MiB); the largest shipped
/// file is a few kilobytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Reads the text of the file at `path` (shown in errors as given).
///
/// Refuses what is not a regular file (a directory, a device such as
/// `/dev/zero`, a pipe), a file larger than [`MAX_FILE_BYTES`], and text that
/// is not UTF-8.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    read_limited(
        path,
        MAX_FILE_BYTES,
        "name a .toml file",
        "fleet and scenario files are a few KiB",
    )
}

/// [`read_text`] for any file fleetsim reads (a golden timeline, a sweep's
/// part file): at most `max` bytes; `name_one` says what to name instead of
/// a directory, device or pipe, and `usual` how large such files are.
pub fn read_limited(
    path: &Path,
    max: u64,
    name_one: &str,
    usual: &str,
) -> Result<String, LoadError> {
    let shown = path.display().to_string();
    let io = |source| LoadError::Io {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("not a regular file (a directory, device or pipe); {name_one}"),
        )));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} KiB, the most fleetsim reads here; {usual}",
                max / 1024
            ),
        )));
    }
    text_of(&shown, bytes).map_err(LoadError::from)
}

/// Reads any bytes the way `fleetsim check` reads a file and renders every
/// error (caret line included): UTF-8 first, then as a scenario on the
/// built-in files, and as a fleet. The fuzz target (`fuzz/`) and the seed
/// corpus test call this one path, so what the corpus checks is what the
/// fuzzer drives. It must never panic, whatever the bytes.
pub fn parse_any(data: &[u8]) {
    let text = match text_of("fuzz.toml", data.to_vec()) {
        Ok(text) => text,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let src = crate::Source {
        name: "fuzz.toml",
        text: &text,
    };
    if let Err(e) = crate::Scenario::parse(&src, &crate::embedded::EmbeddedResolver) {
        let _ = e.to_string();
    }
    if let Err(e) = crate::Fleet::from_toml(&src) {
        let _ = e.to_string();
    }
    let _ = crate::Fleet::looks_like(&text);
}

/// The bytes as text, or an error at the first invalid UTF-8 byte.
pub fn text_of(name: &str, bytes: Vec<u8>) -> Result<String, Box<FileError>> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let bytes = e.as_bytes();
            let offset = e.utf8_error().valid_up_to();
            let before = &bytes[..offset];
            let line = before.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let prefix = String::from_utf8_lossy(&bytes[line_start..offset]);
            let line_end = bytes[offset..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| offset + i);
            Err(Box::new(FileError {
                file: name.to_string(),
                line,
                column: prefix.chars().count() + 1,
                field: None,
                message: format!("invalid UTF-8 at byte {offset} (0x{:02x})", bytes[offset]),
                hint: Some("save the file as UTF-8".into()),
                source_line: Some(
                    String::from_utf8_lossy(&bytes[line_start..line_end]).into_owned(),
                ),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_reported_with_its_byte_offset_line_and_column() {
        let e = text_of("f.toml", b"name = \"a\"\nseed = \xff1\n".to_vec()).unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
        assert!(e.message.contains("byte 18"), "{}", e.message);
        assert!(
            e.to_string()
                .starts_with("f.toml:2:8: invalid UTF-8 at byte 18")
        );
    }

    #[test]
    fn a_device_is_refused_as_not_a_regular_file() {
        let e = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_file_over_the_size_cap_is_refused() {
        let dir = std::env::temp_dir().join(format!("fleetsim-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("big.toml");
        let line = format!("# {}\n", "x".repeat(1000));
        std::fs::write(&p, line.repeat(1100)).unwrap();
        let e = read_text(&p).unwrap_err();
        assert!(e.to_string().contains("larger than 1024 KiB"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
