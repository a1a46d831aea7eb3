//! The bounds on every input the API takes, checked before anything else looks at it: ids,
//! free text, lists, dates and filter values. A bad input is INVALID_ARGUMENT with a field
//! violation naming the field, and the input appears in the message cut short — never
//! whole, never as a store error, never as a retryable condition.
//!
//! The rules are the proto's (its header documents them): an id is 1 to
//! [`MAX_ID_CHARS`] characters, each a letter or digit of any script or one of
//! [`ID_PUNCTUATION`] — no spaces, no control characters — in Unicode's normal form
//! NFKC, not `.` or `..`, and not mixing scripts that look alike; free text is at most
//! [`MAX_TEXT_CHARS`] characters without control characters other than newlines and
//! tabs, and without the bidirectional controls; a list has at most [`MAX_LIST`] entries.
//!
//! Why ids must be normal rather than be normalised here: an id is the caller's key in
//! its own records as much as ours. A department system that sent `ＰＲＪ－１` and got
//! back events of `PRJ-1` could not match them, and two callers could hold one project
//! under two spellings. So an id not in NFKC (full-width letters and digits, ligatures,
//! circled numbers) is refused with the normal form in the message, and an id mixing
//! Latin with Cyrillic or Greek (`РRJ-1` with a Cyrillic `Р`: UTS #39's restriction
//! levels above "moderately restrictive") is refused — the two would read the same and
//! be two projects. Latin with Chinese (`P-2026/湖里.001`) is fine. The console, where a
//! person types, normalises what they type before it calls the API.

use chrono::NaiveDate;
use tonic::Status;

use super::status::{invalid_argument, truncate};

/// The most characters an id may have (a project, an item, a request, a material…).
pub const MAX_ID_CHARS: usize = 128;
/// The punctuation an id may contain besides letters and digits.
pub const ID_PUNCTUATION: &str = "-_.:/@#+~";
/// The most characters of free text (a reason, a note, a name, a form value).
pub const MAX_TEXT_CHARS: usize = 2000;
/// The most entries of a list (materials, needed materials, form fields, filters).
pub const MAX_LIST: usize = 1000;

/// The most versions one comparison puts side by side.
pub const MAX_COMPARE: usize = 16;

/// How an input is quoted in a message: at most 40 bytes of it.
pub fn quoted(v: &str) -> String {
    format!("`{}`", truncate(v, super::status::ECHO))
}

/// A required id.
pub fn id(field: &str, v: &str) -> Result<(), Status> {
    if v.is_empty() {
        return Err(invalid_argument(format!("{field}: required")));
    }
    let chars = v.chars().count();
    if chars > MAX_ID_CHARS {
        return Err(invalid_argument(format!(
            "{field}: {} has {chars} characters; an id has at most {MAX_ID_CHARS}",
            quoted(v)
        )));
    }
    // ASCII is its own normal form and one script: the common case costs nothing more.
    let ascii = v.is_ascii();
    if !ascii {
        let normal = normal_id(v);
        if normal != v {
            return Err(invalid_argument(format!(
                "{field}: {} is not in Unicode's normal form (NFKC: full-width or compatibility characters); write it {}",
                quoted(v),
                quoted(&normal)
            )));
        }
    }
    if let Some(c) = v
        .chars()
        .find(|c| !(c.is_alphanumeric() || ID_PUNCTUATION.contains(*c)))
    {
        return Err(invalid_argument(format!(
            "{field}: {} contains {c:?}; an id is letters, digits and {ID_PUNCTUATION}",
            quoted(v)
        )));
    }
    if v == "." || v == ".." {
        return Err(invalid_argument(format!(
            "{field}: `{v}` is not an id (it names a directory in a path)"
        )));
    }
    use unicode_security::{RestrictionLevel, RestrictionLevelDetection};
    if !ascii
        && v.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .as_str()
            .detect_restriction_level()
            > RestrictionLevel::ModeratelyRestrictive
    {
        return Err(invalid_argument(format!(
            "{field}: {} mixes scripts that look alike (Latin with Cyrillic or Greek); write it in one script",
            quoted(v)
        )));
    }
    Ok(())
}

/// An id as a person may have typed it, in the normal form the API takes (NFKC:
/// full-width letters and digits become ASCII), trimmed. The console applies it to what
/// a clerk types; the API refuses ids that are not already normal.
pub fn normal_id(v: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    v.trim().nfkc().collect()
}

/// The bidirectional controls (embeddings, overrides, isolates, marks): in free text
/// they reorder what a reader sees (U+202E makes `exe.txt` read `txt.exe`), so a reason
/// could say one thing on screen and another in the record.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// An id that may be left empty (a filter, an optional reference).
pub fn optional_id(field: &str, v: &str) -> Result<(), Status> {
    if v.is_empty() {
        Ok(())
    } else {
        id(field, v)
    }
}

/// Free text (may be empty).
pub fn text(field: &str, v: &str) -> Result<(), Status> {
    let chars = v.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(invalid_argument(format!(
            "{field}: {chars} characters; at most {MAX_TEXT_CHARS}"
        )));
    }
    if let Some(c) = v
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        return Err(invalid_argument(format!(
            "{field}: {} contains the control character {c:?}",
            quoted(v)
        )));
    }
    if let Some(c) = v.chars().find(|c| is_bidi_control(*c)) {
        return Err(invalid_argument(format!(
            "{field}: contains the bidirectional control U+{:04X}, which reorders what a reader sees",
            u32::from(c)
        )));
    }
    Ok(())
}

/// A request's `at`, which must be empty: the time of record is the server's clock, read
/// under the project's lock when the command is decided — no caller sets it (a department
/// could otherwise backdate a late approval so that it counts as on time).
pub fn time_of_record(at: &str) -> Result<(), Status> {
    if at.is_empty() {
        Ok(())
    } else {
        Err(invalid_argument(
            "at: the time of record is the server's clock; leave `at` empty",
        ))
    }
}

/// A list's length.
pub fn list<T>(field: &str, v: &[T]) -> Result<(), Status> {
    if v.len() > MAX_LIST {
        return Err(invalid_argument(format!(
            "{field}: {} entries; at most {MAX_LIST}",
            v.len()
        )));
    }
    Ok(())
}

/// A date within the years the platform computes with.
pub fn date(field: &str, v: &str) -> Result<NaiveDate, Status> {
    let d = v
        .parse::<NaiveDate>()
        .map_err(|_| invalid_argument(format!("{field}: {} is not YYYY-MM-DD", quoted(v))))?;
    if !onewindow_core::calendar::in_range(d) {
        return Err(invalid_argument(format!(
            "{field}: {d} is outside the years {}..={}",
            onewindow_core::calendar::FIRST_YEAR,
            onewindow_core::calendar::LAST_YEAR
        )));
    }
    Ok(d)
}

/// A value that must be one of `allowed` (or empty, when `allow_empty`).
pub fn one_of(field: &str, v: &str, allowed: &[&str], allow_empty: bool) -> Result<(), Status> {
    if (allow_empty && v.is_empty()) || allowed.contains(&v) {
        return Ok(());
    }
    Err(invalid_argument(format!(
        "{field}: {} is not one of {}",
        quoted(v),
        allowed.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bounded_in_characters_and_charset() {
        assert!(id("project", "P-2026/湖里.001").is_ok());
        assert!(
            id("project", &"项".repeat(MAX_ID_CHARS)).is_ok(),
            "characters, not bytes"
        );
        let long = "x".repeat(100_000);
        let e = id("project", &long).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().len() < 200, "the input is not echoed whole");
        for bad in ["", " ", "\n", "a b", "a\0b", "a\"b"] {
            assert_eq!(
                id("project", bad).unwrap_err().code(),
                tonic::Code::InvalidArgument,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ids_are_normal_not_dots_and_not_look_alikes() {
        for good in ["P-2026/湖里.001", "项目甲", "ПРОЕКТ-1", "a.b", "..a", "nrp"] {
            assert!(id("project", good).is_ok(), "{good}");
        }
        for (bad, says) in [
            (".", "not an id"),
            ("..", "not an id"),
            ("ＰＲＪ－１", "write it `PRJ-1`"),
            ("PRJ-①", "normal form"),
            ("\u{420}RJ-1", "look alike"),
            ("pa\u{3b1}ypal", "look alike"),
        ] {
            let e = id("project", bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
            assert!(e.message().contains(says), "{bad}: {}", e.message());
        }
        assert_eq!(normal_id(" ＰＲＪ－１ "), "PRJ-1");
    }

    #[test]
    fn text_refuses_bidi_controls() {
        assert!(text("reason", "مرحبا and English").is_ok());
        for c in ['\u{202E}', '\u{2066}', '\u{200F}'] {
            let e = text("reason", &format!("invoice{c}fdp.exe")).unwrap_err();
            assert!(e.message().contains("bidirectional"), "{}", e.message());
        }
    }

    #[test]
    fn text_dates_and_filters() {
        assert!(text("reason", "图纸缺少立面图\n第二行").is_ok());
        assert!(text("reason", "a\u{7}b").is_err());
        assert!(text("reason", &"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(date("from", "2026-03-02").is_ok());
        assert!(date("from", "+10000-01-01").is_err());
        assert!(date("from", "1999-12-31").is_err());
        assert!(one_of("state", "bogus", &["ready"], true).is_err());
        assert!(one_of("state", "", &["ready"], true).is_ok());
    }
}
