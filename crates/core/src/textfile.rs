//! Reading the files people write — workflows, forms, scenarios, calendars — with bounds,
//! before any parser sees them: only regular files (not `/dev/zero`, a pipe or a
//! directory), at most [`MAX_BYTES`], and YAML nested at most [`MAX_DEPTH`] deep with no
//! key written twice in one mapping. A parser then never reads without end, never
//! recurses for minutes, and never lets a repeated key silently win.
//!
//! And writing the files only their owner may read (keys, the identity file, the audit
//! witness): [`write_private`].

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest file read: 16 MiB, far above any real workflow (the 10,000-item benchmark
/// workflow is under 2 MiB).
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The deepest YAML nesting accepted: real files nest a handful of levels.
pub const MAX_DEPTH: usize = 64;

/// Why a file was not read.
#[derive(Debug)]
pub enum Error {
    /// The file could not be opened or read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a regular file (a directory, a device, a pipe).
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// Over the limit it was read with ([`MAX_BYTES`] unless a caller gave another).
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, bytes.
        max: u64,
    },
    /// Not UTF-8.
    NotText {
        /// The file.
        path: PathBuf,
    },
}

impl Error {
    /// The file.
    pub fn path(&self) -> &Path {
        match self {
            Error::Io { path, .. }
            | Error::NotAFile { path }
            | Error::TooLarge { path, .. }
            | Error::NotText { path } => path,
        }
    }

    /// What is wrong, without the path (for a diagnostic that names the file itself).
    pub fn reason(&self) -> String {
        match self {
            Error::Io { source, .. } => format!("cannot read: {source}"),
            Error::NotAFile { .. } => "not a regular file".to_string(),
            Error::TooLarge { max, .. } => format!(
                "over {} MiB; files are read whole, so they are limited",
                max / (1024 * 1024)
            ),
            Error::NotText { .. } => "not UTF-8 text".to_string(),
        }
    }
}

/// The file, then [`Error::reason`]: each message is written once.
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path().display(), self.reason())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// serde_yaml's message without the ` at line L column C` it appends: a diagnostic
/// carries the position itself, once.
pub fn yaml_message(e: &serde_yaml::Error) -> String {
    let mut text = e.to_string();
    // Every ` at line L column C`, wherever serde_yaml put it.
    while let Some(i) = text.find(" at line ") {
        let rest = &text[i + " at line ".len()..];
        let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
        let l = digits(rest);
        let Some(after) = rest[l..].strip_prefix(" column ") else {
            break;
        };
        let c = digits(after);
        let end = i + " at line ".len() + l + " column ".len() + c;
        text.replace_range(i..end, "");
    }
    // serde_yaml's words for a number no integer type holds.
    match (text.find("invalid type: integer `"), text.find("` as u128")) {
        (Some(a), Some(b)) if a < b => {
            let number = &text[a + "invalid type: integer `".len()..b];
            format!("{}the number {number} is too large", &text[..a])
        }
        _ => text,
    }
}

/// Reads a text file within the bounds above.
///
/// # Errors
/// An [`Error`] naming the file.
pub fn read(path: &Path) -> Result<String, Error> {
    read_at_most(path, MAX_BYTES)
}

/// Reads a text file of at most `max` bytes (data files such as a city's plan layers are
/// larger than anything a person writes by hand).
///
/// # Errors
/// An [`Error`] naming the file.
pub fn read_at_most(path: &Path, max: u64) -> Result<String, Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() > max {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    // The length may change between the check and the read: read one byte past the limit
    // at most.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            max,
        });
    }
    String::from_utf8(bytes).map_err(|_| Error::NotText {
        path: path.to_path_buf(),
    })
}

/// A problem the YAML pre-check found, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlProblem {
    /// Line (1-based).
    pub line: usize,
    /// Column (1-based).
    pub column: usize,
    /// A stable code: `yaml-depth` or `duplicate-key`.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// Checks YAML text before it is deserialized: nesting at most [`MAX_DEPTH`] deep (counted
/// cheaply first, so that a deeply nested file is refused without parsing it), and no
/// mapping with the same key twice.
///
/// # Errors
/// The first problem found.
pub fn check_yaml(text: &str) -> Result<(), YamlProblem> {
    flow_depth(text)?;
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    // One frame per open collection: for a mapping, its keys so far and whether the next
    // node is a key.
    enum Frame {
        Map {
            keys: std::collections::HashSet<String>,
            expect_key: bool,
        },
        Seq,
    }
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(e) => e,
            // Syntax errors are for serde_yaml to report, with its own message.
            Err(_) => return Ok(()),
        };
        let at = |code, message| YamlProblem {
            line: mark.line(),
            column: mark.col() + 1,
            code,
            message,
        };
        // Whether this node is a key of the innermost mapping (and flip the expectation).
        let is_key = match stack.last_mut() {
            Some(Frame::Map { expect_key, .. }) => {
                let k = *expect_key;
                if matches!(
                    event,
                    Event::Scalar(..)
                        | Event::SequenceStart(..)
                        | Event::MappingStart(..)
                        | Event::Alias(_)
                ) {
                    *expect_key = !*expect_key;
                }
                k
            }
            _ => false,
        };
        match event {
            Event::StreamEnd => return Ok(()),
            Event::Scalar(value, ..) if is_key => {
                if let Some(Frame::Map { keys, .. }) = stack.last_mut() {
                    if !keys.insert(value.clone()) {
                        return Err(at(
                            "duplicate-key",
                            format!("the key `{value}` appears twice in one mapping; keep one"),
                        ));
                    }
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(at(
                        "yaml-depth",
                        format!("nested more than {MAX_DEPTH} levels deep"),
                    ));
                }
                stack.push(match event {
                    Event::MappingStart(..) => Frame::Map {
                        keys: Default::default(),
                        expect_key: true,
                    },
                    _ => Frame::Seq,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
}

/// Flow collections (`[[[…` and `{{{…`) nested deeper than [`MAX_DEPTH`], found with one
/// pass over the text (quoted scalars and comments skipped), before a parser recurses.
fn flow_depth(text: &str) -> Result<(), YamlProblem> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut previous = '\n';
    for c in text.chars() {
        column += 1;
        if c == '\n' {
            line += 1;
            column = 0;
            comment = false;
            previous = c;
            continue;
        }
        match (quote, c) {
            _ if comment => {}
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '#') if previous.is_whitespace() => comment = true,
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(YamlProblem {
                        line,
                        column,
                        code: "yaml-depth",
                        message: format!("nested more than {MAX_DEPTH} levels deep"),
                    });
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        previous = c;
    }
    Ok(())
}

/// The directory of `path`, created owner-only (0700) if it does not exist.
///
/// # Errors
/// The directory cannot be created.
pub fn private_dir(path: &Path) -> std::io::Result<&Path> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    Ok(dir)
}

/// Writes a file only its owner can read (0600), atomically (a temporary file beside it,
/// synced, renamed over the old), creating its directory owner-only.
///
/// # Errors
/// The file or its directory cannot be written; the error names the path.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let named = |e: std::io::Error, p: &Path| {
        std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
    };
    let dir = private_dir(path).map_err(|e| named(e, path))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map_or("file".into(), |n| n.to_string_lossy())
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| named(e, &tmp))?;
    f.write_all(text.as_bytes()).map_err(|e| named(e, &tmp))?;
    f.sync_all().map_err(|e| named(e, &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| named(e, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_large_files_are_refused_before_reading() {
        assert!(matches!(
            read(Path::new("/dev/zero")),
            Err(Error::NotAFile { .. })
        ));
        assert!(matches!(read(Path::new("/")), Err(Error::NotAFile { .. })));
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.yaml");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_BYTES + 1).unwrap();
        assert!(matches!(read(&big), Err(Error::TooLarge { .. })));
    }

    #[test]
    fn deep_nesting_and_repeated_keys_are_refused() {
        let deep = format!("a: {}{}", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        assert_eq!(check_yaml(&deep).unwrap_err().code, "yaml-depth");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let mut block = String::new();
        for d in 0..100 {
            block.push_str(&"  ".repeat(d));
            block.push_str("k:\n");
        }
        assert_eq!(check_yaml(&block).unwrap_err().code, "yaml-depth");
        let dup = "departments:\n  env: {staff: 2}\n  env: {staff: 3}\n";
        let p = check_yaml(dup).unwrap_err();
        assert_eq!((p.code, p.line), ("duplicate-key", 3));
        assert!(check_yaml("a: {b: 1, c: [1, 1, 1]}\nd: '[[[['\n# [[[[\n").is_ok());
        assert!(
            check_yaml("- {a: 1}\n- {a: 1}\n").is_ok(),
            "keys are per mapping"
        );
    }
}
