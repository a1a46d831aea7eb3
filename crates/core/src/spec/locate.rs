//! Source positions for YAML paths, built only when a diagnostic needs one.
//!
//! serde_yaml deserializes into typed structs but forgets where each value was. Rather
//! than wrap every field in a spanned type, diagnostics name a *path*
//! (`items[3].department`) and this module turns it into line and column by reading the
//! same text once more with yaml-rust2's event parser, which reports a marker for every
//! node. A valid workflow never pays for this second read.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl From<&str> for Seg {
    fn from(s: &str) -> Seg {
        Seg::Key(s.to_string())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Seg {
        Seg::Index(i)
    }
}

/// Where a node starts: 1-based line and column, and whether it is a quoted scalar (so
/// that an offset into its text is one column further right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// The node is a single- or double-quoted scalar.
    pub quoted: bool,
}

/// Positions of every node of a document, by path.
#[derive(Debug, Default)]
pub struct Locator {
    nodes: HashMap<Vec<Seg>, Pos>,
}

enum Frame {
    /// `first`: no key seen yet, so the next key's marker is where the mapping starts
    /// for a reader (the parser's own mapping marker can sit after the first key).
    Map {
        key: Option<String>,
        first: bool,
    },
    Seq {
        next: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    path: Vec<Seg>,
    nodes: HashMap<Vec<Seg>, Pos>,
}

impl Builder {
    /// Called before a node (scalar, sequence or mapping) is consumed as a *value*; returns
    /// false when the node is a mapping key instead.
    fn enter_value(&mut self, text: Option<&str>) -> bool {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => match key.take() {
                None => {
                    *key = Some(text.unwrap_or("").to_string());
                    false
                }
                Some(k) => {
                    self.path.push(Seg::Key(k));
                    true
                }
            },
            Some(Frame::Seq { next }) => {
                self.path.push(Seg::Index(*next));
                *next += 1;
                true
            }
            None => true,
        }
    }

    fn leave_value(&mut self) {
        if !self.stack.is_empty() {
            self.path.pop();
        }
    }

    fn record(&mut self, mark: Marker, quoted: bool) {
        self.nodes.entry(self.path.clone()).or_insert(Pos {
            line: mark.line(),
            col: mark.col() + 1,
            quoted,
        });
    }
}

impl MarkedEventReceiver for Builder {
    // `enter_value` changes state, so it stays in the arm body rather than in a guard.
    #[allow(clippy::collapsible_match)]
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, style, ..) => {
                if let Some(Frame::Map { key: None, first }) = self.stack.last_mut() {
                    if *first {
                        *first = false;
                        self.nodes.insert(
                            self.path.clone(),
                            Pos {
                                line: mark.line(),
                                col: mark.col() + 1,
                                quoted: false,
                            },
                        );
                    }
                }
                if self.enter_value(Some(&text)) {
                    let quoted = matches!(
                        style,
                        TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                    );
                    self.record(mark, quoted);
                    self.leave_value();
                }
            }
            Event::Alias(_) => {
                if self.enter_value(Some("")) {
                    self.record(mark, false);
                    self.leave_value();
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                // A collection used as a mapping key is unusual; treat it as a value so
                // the walk stays balanced.
                if !self.enter_value(None) {
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = None;
                    }
                    self.path.push(Seg::Key(String::new()));
                }
                self.record(mark, false);
                self.stack.push(if is_map {
                    Frame::Map {
                        key: None,
                        first: true,
                    }
                } else {
                    Frame::Seq { next: 0 }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.leave_value();
            }
            _ => {}
        }
    }
}

impl Locator {
    /// Reads `text` and records the position of every node. Text that does not parse
    /// gives whatever was recorded before the error; positions are a courtesy, and the
    /// syntax error itself is reported by serde_yaml.
    pub fn new(text: &str) -> Locator {
        let mut b = Builder {
            stack: Vec::new(),
            path: Vec::new(),
            nodes: HashMap::new(),
        };
        let mut parser = Parser::new_from_str(text);
        let _ = parser.load(&mut b, false);
        Locator { nodes: b.nodes }
    }

    /// The position of the node at `path`, if the document has one there.
    pub fn get(&self, path: &[Seg]) -> Option<Pos> {
        self.nodes.get(path).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values() {
        let text = "a: 1\nitems:\n  - id: X\n    requires:\n      documents: [d1, 'd2']\n  - {id: Y, when: \"f == 1\"}\n";
        let loc = Locator::new(text);
        let p = |v: Vec<Seg>| loc.get(&v).map(|p| (p.line, p.col, p.quoted));
        assert_eq!(p(vec!["a".into()]), Some((1, 4, false)));
        assert_eq!(
            p(vec!["items".into(), 0.into(), "id".into()]),
            Some((3, 9, false))
        );
        assert_eq!(
            p(vec![
                "items".into(),
                0.into(),
                "requires".into(),
                "documents".into(),
                1.into()
            ]),
            Some((5, 23, true))
        );
        assert_eq!(
            p(vec!["items".into(), 1.into(), "when".into()]),
            Some((6, 19, true))
        );
        assert_eq!(p(vec!["items".into(), 1.into()]), Some((6, 6, false)));
        assert_eq!(p(vec!["items".into(), 0.into()]), Some((3, 5, false)));
    }
}
