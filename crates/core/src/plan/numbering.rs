//! Document numbers (文号/证号): what one may be, and a department's numbering pattern.
//!
//! A document number is not an id. Departments print numbers such as `发改能审〔2026〕5号`,
//! `环审(2026)7号` or `建字第210600202600012号`: CJK, full-width brackets (〔〕（）), spaces
//! even. So a number is any printable text, trimmed, at most [`MAX_NUMBER_CHARS`]
//! characters, with no control characters and no bidirectional controls (which would
//! make a printed number read differently from the stored one) — [`check_number`].
//!
//! A department may declare how it numbers (`numbering: "发改能审〔{year}〕{seq}号"` in the
//! workflow, [`Pattern`]): when an approver gives no number, the next one in the
//! department's yearly sequence is issued (the register is the store's, gap-free and
//! never twice: `store::Drawn`). `{year}` is the year of the approval in the calendar's
//! zone, `{seq}` the sequence number, `{seq:N}` the same zero-padded to N digits
//! (`建字第210600{year}{seq:5}号` → `建字第210600202600012号`).

use std::fmt;

/// The most characters a document number may have.
pub const MAX_NUMBER_CHARS: usize = 64;

/// The most digits `{seq:N}` pads to.
const MAX_PAD: usize = 12;

/// Why a text is not a document number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Nothing but spaces.
    #[error("a document number cannot be empty")]
    Empty,
    /// Too long.
    #[error("{0} characters; a document number has at most {MAX_NUMBER_CHARS}")]
    TooLong(usize),
    /// A control character (a newline, a NUL…).
    #[error("contains the control character {0:?}")]
    Control(char),
    /// A bidirectional control.
    #[error("contains the bidirectional control U+{:04X}, which reorders what a reader sees", u32::from(*.0))]
    Bidi(char),
}

/// The characters that reorder text on screen and paper (Unicode's bidi controls).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// A document number as it will be kept: `v` trimmed, when it is one.
///
/// # Errors
/// Empty, over [`MAX_NUMBER_CHARS`], or with a control or bidirectional character.
pub fn check_number(v: &str) -> Result<&str, NumberError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(NumberError::Empty);
    }
    // One pass (every approval's numbers come through here), the errors in their order.
    let (mut chars, mut control, mut bidi) = (0, None, None);
    for c in v.chars() {
        chars += 1;
        if control.is_none() && c.is_control() {
            control = Some(c);
        }
        if bidi.is_none() && is_bidi_control(c) {
            bidi = Some(c);
        }
    }
    if chars > MAX_NUMBER_CHARS {
        return Err(NumberError::TooLong(chars));
    }
    if let Some(c) = control {
        return Err(NumberError::Control(c));
    }
    if let Some(c) = bidi {
        return Err(NumberError::Bidi(c));
    }
    Ok(v)
}

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Year,
    Seq { pad: usize },
}

/// A department's numbering pattern, checked: exactly one `{seq}` (or `{seq:N}`), any
/// `{year}`, text that could stand in a number, and room for the number it makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    pieces: Vec<Piece>,
}

impl Pattern {
    /// Parses a pattern.
    ///
    /// # Errors
    /// What is wrong with it, in words (the compiler puts it at the pattern's line).
    pub fn parse(source: &str) -> Result<Pattern, String> {
        let mut pieces = Vec::new();
        let mut rest = source;
        let mut text = String::new();
        let mut seqs = 0;
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                return Err(format!("`{{` without `}}` in `{source}`"));
            };
            let name = &rest[open + 1..open + close];
            let piece = match name.split_once(':') {
                None if name == "year" => Piece::Year,
                None if name == "seq" => Piece::Seq { pad: 0 },
                Some(("seq", n)) => match n.parse::<usize>() {
                    Ok(pad) if (1..=MAX_PAD).contains(&pad) => Piece::Seq { pad },
                    _ => {
                        return Err(format!(
                            "`{{seq:{n}}}`: the width is a number of digits from 1 to {MAX_PAD}"
                        ))
                    }
                },
                _ => {
                    return Err(format!(
                        "unknown placeholder `{{{name}}}`: a pattern knows `{{year}}`, `{{seq}}` and `{{seq:N}}`"
                    ))
                }
            };
            if matches!(piece, Piece::Seq { .. }) {
                seqs += 1;
            }
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(piece);
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("`}}` without `{{` in `{source}`"));
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        match seqs {
            0 => {
                return Err(format!(
                    "`{source}` has no `{{seq}}`: every number a pattern issues must differ"
                ))
            }
            1 => {}
            _ => return Err(format!("`{source}` has `{{seq}}` {seqs} times; once")),
        }
        let pattern = Pattern {
            source: source.to_string(),
            pieces,
        };
        // The longest number it issues (a 4-digit year, a sequence of 8 digits or the
        // padding) must be a number.
        check_number(&pattern.format(9999, 99_999_999))
            .map_err(|e| format!("the numbers `{source}` makes: {e}"))?;
        Ok(pattern)
    }

    /// The number `seq` of `year`.
    pub fn format(&self, year: i32, seq: u64) -> String {
        use std::fmt::Write as _;
        // One buffer, written in place: the simulator draws a number for every approval.
        let mut out = String::with_capacity(self.source.len() + 8);
        for p in &self.pieces {
            // Writing to a String cannot fail.
            let _ = match p {
                Piece::Text(t) => out.write_str(t),
                Piece::Year => write!(out, "{year}"),
                Piece::Seq { pad } => write!(out, "{seq:0pad$}"),
            };
        }
        out
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl serde::Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

/// The register a department's numbers of one year are drawn from (`ndrc/2026`): one
/// sequence per department and year, whichever workflow or pattern draws from it.
pub fn register(department: &str, year: i32) -> String {
    format!("{department}/{year}")
}

/// What an approval of `item` would draw: its department, the department's pattern and
/// the documents the item issues that `numbers` gives no number for — `None` when the
/// department declares no pattern or nothing is missing.
pub fn to_draw<'p>(
    plan: &'p super::Plan,
    item: &str,
    numbers: &std::collections::BTreeMap<String, String>,
) -> Option<(&'p str, &'p Pattern, Vec<String>)> {
    let i = plan.item_index(item)?;
    let department = &plan.departments[plan.items[i].department?];
    let pattern = department.numbering.as_ref()?;
    let documents: Vec<String> = plan.items[i]
        .produces
        .iter()
        .map(|&d| plan.documents[d].id.clone())
        .filter(|d| !numbers.contains_key(d))
        .collect();
    (!documents.is_empty()).then_some((department.id.as_str(), pattern, documents))
}

/// Gives `documents` the numbers after `from` of `year`, in order; where the register
/// then stands.
pub fn fill(
    pattern: &Pattern,
    year: i32,
    from: u64,
    documents: &[String],
    numbers: &mut std::collections::BTreeMap<String, String>,
) -> u64 {
    let mut at = from;
    for d in documents {
        at += 1;
        numbers.insert(d.clone(), pattern.format(year, at));
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_numbers_are_numbers() {
        for n in [
            "发改能审〔2026〕5号",
            "环审(2026)7号",
            "建字第210600202600012号",
            "  环审（2026）7号 ",
        ] {
            assert!(check_number(n).is_ok(), "{n}");
        }
        assert_eq!(check_number(" 环审(2026)7号\u{3000}"), Ok("环审(2026)7号"));
        assert_eq!(check_number("  "), Err(NumberError::Empty));
        assert_eq!(check_number("a\nb"), Err(NumberError::Control('\n')));
        assert_eq!(
            check_number("a\u{202E}b"),
            Err(NumberError::Bidi('\u{202E}'))
        );
        assert_eq!(
            check_number(&"号".repeat(65)),
            Err(NumberError::TooLong(65))
        );
    }

    #[test]
    fn patterns_format_and_refuse() {
        let p = Pattern::parse("发改能审〔{year}〕{seq}号").unwrap();
        assert_eq!(p.format(2026, 5), "发改能审〔2026〕5号");
        let p = Pattern::parse("建字第210600{year}{seq:5}号").unwrap();
        assert_eq!(p.format(2026, 12), "建字第210600202600012号");
        assert!(Pattern::parse("环审({year})号")
            .unwrap_err()
            .contains("no `{seq}`"));
        assert!(Pattern::parse("{seq}-{seq}")
            .unwrap_err()
            .contains("2 times"));
        assert!(Pattern::parse("{month}{seq}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(Pattern::parse("{seq:0}").is_err());
        assert!(Pattern::parse("{seq").is_err());
        assert!(Pattern::parse("a\tb{seq}").unwrap_err().contains("control"));
        assert!(Pattern::parse(&format!("{}{{seq}}", "字".repeat(60))).is_err());
    }
}
