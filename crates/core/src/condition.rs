//! Conditions on the form (`when:`): which items apply to which projects.
//!
//! ```text
//! industry == 'industrial' and (floor_area >= 20000 or special_fire)
//! land_supply in ['grant', 'allocation'] and not regional_assessment
//! ```
//!
//! The text is parsed by a pest grammar (`condition.pest`) into an [`Expr`], then checked
//! against the form's field types ([`Expr::check`]) when the workflow is compiled, so a
//! typo or a type mismatch is a compile error pointing at its column, never a silent
//! `false` at run time. Evaluation ([`Expr::eval`]) cannot fail: a field the applicant
//! left empty makes its comparison false.

use chrono::NaiveDate;
use pest::Parser;
use serde::Serialize;

use crate::form::{Field, FieldType, Form, Value};

#[allow(missing_docs)]
mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "condition.pest"]
    pub(super) struct Grammar;
}
use grammar::{Grammar, Rule};

/// A problem in a condition, at a byte offset into its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Byte offset into the condition text (0-based).
    pub offset: usize,
    /// What is wrong.
    pub message: String,
    /// The kind of problem, for diagnostics codes.
    pub kind: ErrorKind,
}

/// The kinds of condition problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The text does not parse.
    Syntax,
    /// A field the form does not declare.
    UnknownField,
    /// A comparison of the wrong type, or an enum value not in the list.
    Type,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn parse(s: &str) -> Op {
        match s {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            _ => Op::Ge,
        }
    }

    fn ordering(self) -> bool {
        !matches!(self, Op::Eq | Op::Ne)
    }

    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Eq => ord == Equal,
            Op::Ne => ord != Equal,
            Op::Lt => ord == Less,
            Op::Le => ord != Greater,
            Op::Gt => ord == Greater,
            Op::Ge => ord != Less,
        }
    }
}

/// A literal as written in the condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Literal {
    /// `'text'` or `"text"`; also how dates are written.
    String(String),
    /// `12`, `-3.5`
    Number(f64),
    /// `true`, `false`
    Bool(bool),
}

/// A field reference with its position, so checks can point at it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldRef {
    /// The field id.
    pub id: String,
    /// Byte offset in the condition text.
    pub offset: usize,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Expr {
    /// Both hold.
    And(Vec<Expr>),
    /// Either holds.
    Or(Vec<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
    /// A bare bool field.
    Truthy(FieldRef),
    /// `field op literal`
    Compare(FieldRef, Op, Literal, usize),
    /// `field in [..]` (negated when the bool is true: `field not in [..]`)
    In(FieldRef, bool, Vec<(Literal, usize)>),
}

/// Parses a condition's text.
///
/// # Errors
/// The first syntax error, at its byte offset, with what was expected there.
pub fn parse(text: &str) -> Result<Expr, Error> {
    let mut pairs = Grammar::parse(Rule::condition, text).map_err(|e| {
        let offset = match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        };
        let message = match &e.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } => {
                let mut expected: Vec<&str> = positives.iter().map(describe).collect();
                expected.sort_unstable();
                expected.dedup();
                let found = text[offset..]
                    .split_whitespace()
                    .next()
                    .map_or("end of condition".to_string(), |w| format!("`{w}`"));
                if expected.is_empty() {
                    format!("unexpected {found}")
                } else {
                    format!("expected {}, found {found}", expected.join(" or "))
                }
            }
            pest::error::ErrorVariant::CustomError { message } => message.clone(),
        };
        Error {
            offset,
            message,
            kind: ErrorKind::Syntax,
        }
    })?;
    let condition = pairs.next().expect("grammar yields one condition");
    let or = condition
        .into_inner()
        .next()
        .expect("condition holds an expression");
    Ok(build(or))
}

fn describe(rule: &Rule) -> &'static str {
    match rule {
        Rule::field => "a field name",
        Rule::cmp_op => "a comparison (==, !=, <, <=, >, >=)",
        Rule::boolean | Rule::number | Rule::string => "a value",
        Rule::list => "a list [..]",
        Rule::EOI => "`and`, `or` or the end",
        Rule::or_expr | Rule::and_expr | Rule::unary | Rule::primary => "a condition",
        _ => "something else",
    }
}

fn is_keyword(pair: &pest::iterators::Pair<'_, Rule>) -> bool {
    matches!(
        pair.as_rule(),
        Rule::kw_and | Rule::kw_or | Rule::kw_not | Rule::kw_in
    )
}

fn build(pair: pest::iterators::Pair<'_, Rule>) -> Expr {
    match pair.as_rule() {
        Rule::or_expr | Rule::and_expr => {
            let is_or = pair.as_rule() == Rule::or_expr;
            let mut parts: Vec<Expr> = pair
                .into_inner()
                .filter(|p| !is_keyword(p))
                .map(build)
                .collect();
            if parts.len() == 1 {
                parts.pop().expect("one part")
            } else if is_or {
                Expr::Or(parts)
            } else {
                Expr::And(parts)
            }
        }
        Rule::unary => {
            let mut inner = pair.into_inner().filter(|p| !is_keyword(p));
            let first = inner.next().expect("unary has a child");
            if first.as_rule() == Rule::unary {
                Expr::Not(Box::new(build(first)))
            } else {
                build(first)
            }
        }
        Rule::primary => build(pair.into_inner().next().expect("primary has a child")),
        Rule::field => Expr::Truthy(field_ref(&pair)),
        Rule::comparison => {
            let mut inner = pair.into_inner();
            let f = field_ref(&inner.next().expect("field"));
            let op = Op::parse(inner.next().expect("op").as_str());
            let lit = inner.next().expect("literal");
            let at = lit.as_span().start();
            Expr::Compare(f, op, literal(lit), at)
        }
        Rule::membership => {
            let mut inner = pair.into_inner().filter(|p| !is_keyword(p)).peekable();
            let f = field_ref(&inner.next().expect("field"));
            let negated = inner.peek().is_some_and(|p| p.as_rule() == Rule::not_in);
            if negated {
                inner.next();
            }
            let list = inner.next().expect("list");
            let items = list
                .into_inner()
                .map(|p| (p.as_span().start(), p))
                .map(|(at, p)| (literal(p), at))
                .collect();
            Expr::In(f, negated, items)
        }
        r => unreachable!("grammar rule {r:?} is not an expression"),
    }
}

fn field_ref(pair: &pest::iterators::Pair<'_, Rule>) -> FieldRef {
    FieldRef {
        id: pair.as_str().to_string(),
        offset: pair.as_span().start(),
    }
}

fn literal(pair: pest::iterators::Pair<'_, Rule>) -> Literal {
    match pair.as_rule() {
        Rule::boolean => Literal::Bool(pair.as_str() == "true"),
        Rule::number => Literal::Number(pair.as_str().parse().unwrap_or(f64::NAN)),
        _ => Literal::String(
            pair.into_inner()
                .next()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
        ),
    }
}

impl Expr {
    /// Checks every field reference and comparison against the form's fields, and
    /// returns every problem found.
    pub fn check(&self, fields: &[Field]) -> Vec<Error> {
        let mut errors = Vec::new();
        self.check_into(fields, &mut errors);
        errors
    }

    fn check_into(&self, fields: &[Field], errors: &mut Vec<Error>) {
        let lookup = |f: &FieldRef, errors: &mut Vec<Error>| {
            let found = fields.iter().find(|x| x.id == f.id);
            if found.is_none() {
                errors.push(Error {
                    offset: f.offset,
                    message: format!("unknown field `{}`", f.id),
                    kind: ErrorKind::UnknownField,
                });
            }
            found
        };
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.check_into(fields, errors)),
            Expr::Not(e) => e.check_into(fields, errors),
            Expr::Truthy(f) => {
                if let Some(field) = lookup(f, errors) {
                    if field.ty != FieldType::Bool {
                        errors.push(type_error(
                            f.offset,
                            format!(
                                "`{}` is a {} field; only a bool field can stand alone",
                                f.id,
                                field.ty.name()
                            ),
                        ));
                    }
                }
            }
            Expr::Compare(f, op, lit, at) => {
                if let Some(field) = lookup(f, errors) {
                    if let Err(m) = check_literal(field, lit) {
                        errors.push(type_error(*at, m));
                    } else if op.ordering()
                        && matches!(
                            field.ty,
                            FieldType::Bool | FieldType::Enum(_) | FieldType::String
                        )
                    {
                        errors.push(type_error(
                            f.offset,
                            format!(
                                "`{}` is a {} field: it can be compared with == and != only",
                                f.id,
                                field.ty.name()
                            ),
                        ));
                    }
                }
            }
            Expr::In(f, _, items) => {
                if let Some(field) = lookup(f, errors) {
                    for (lit, at) in items {
                        if let Err(m) = check_literal(field, lit) {
                            errors.push(type_error(*at, m));
                        }
                    }
                }
            }
        }
    }

    /// Evaluates the condition on a form. A comparison on a field the form leaves empty
    /// is false (so `not` of it is true).
    pub fn eval(&self, form: &Form) -> bool {
        match self {
            Expr::And(v) => v.iter().all(|e| e.eval(form)),
            Expr::Or(v) => v.iter().any(|e| e.eval(form)),
            Expr::Not(e) => !e.eval(form),
            Expr::Truthy(f) => matches!(form.values.get(&f.id), Some(Value::Bool(true))),
            Expr::Compare(f, op, lit, _) => form
                .values
                .get(&f.id)
                .and_then(|v| compare(v, lit))
                .is_some_and(|ord| op.holds(ord)),
            Expr::In(f, negated, items) => {
                let Some(v) = form.values.get(&f.id) else {
                    return false;
                };
                let found = items
                    .iter()
                    .any(|(lit, _)| compare(v, lit) == Some(std::cmp::Ordering::Equal));
                found != *negated
            }
        }
    }

    /// The ids of the fields the condition reads.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |f| out.push(f.id.as_str()));
        out
    }

    fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a FieldRef)) {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.walk(visit)),
            Expr::Not(e) => e.walk(visit),
            Expr::Truthy(f) | Expr::Compare(f, ..) | Expr::In(f, ..) => visit(f),
        }
    }
}

fn type_error(offset: usize, message: String) -> Error {
    Error {
        offset,
        message,
        kind: ErrorKind::Type,
    }
}

fn check_literal(field: &Field, lit: &Literal) -> Result<(), String> {
    let ok = match (&field.ty, lit) {
        (FieldType::String, Literal::String(_)) => true,
        (FieldType::Number, Literal::Number(_)) => true,
        (FieldType::Bool, Literal::Bool(_)) => true,
        (FieldType::Enum(values), Literal::String(s)) => {
            if !values.contains(s) {
                return Err(format!(
                    "'{s}' is not a value of `{}` (one of: {})",
                    field.id,
                    values.join(", ")
                ));
            }
            true
        }
        (FieldType::Date, Literal::String(s)) => {
            if s.parse::<NaiveDate>().is_err() {
                return Err(format!("'{s}' is not a date (YYYY-MM-DD)"));
            }
            true
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is a {} field and cannot be compared with {}",
            field.id,
            field.ty.name(),
            match lit {
                Literal::String(s) => format!("the text '{s}'"),
                Literal::Number(n) => format!("the number {n}"),
                Literal::Bool(b) => format!("the bool {b}"),
            }
        ))
    }
}

fn compare(v: &Value, lit: &Literal) -> Option<std::cmp::Ordering> {
    match (v, lit) {
        (Value::String(a), Literal::String(b)) => Some(a.as_str().cmp(b.as_str())),
        (Value::Number(a), Literal::Number(b)) => a.partial_cmp(b),
        (Value::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (Value::Date(a), Literal::String(b)) => b.parse::<NaiveDate>().ok().map(|b| a.cmp(&b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<Field> {
        let f = |id: &str, ty| Field {
            id: id.into(),
            name: id.into(),
            ty,
            required: false,
            min: None,
            max: None,
            labels: Default::default(),
        };
        vec![
            f(
                "industry",
                FieldType::Enum(vec!["industrial".into(), "commercial".into()]),
            ),
            f("floor_area", FieldType::Number),
            f("special_fire", FieldType::Bool),
            f("start", FieldType::Date),
            f("owner", FieldType::String),
        ]
    }

    fn form(yaml: &str) -> Form {
        Form::parse(yaml, &fields()).unwrap()
    }

    #[test]
    fn evaluates_and_or_not_in() {
        let e =
            parse("industry == 'industrial' and (floor_area >= 20000 or special_fire)").unwrap();
        assert!(e.check(&fields()).is_empty());
        assert!(e.eval(&form("industry: industrial\nfloor_area: 30000")));
        assert!(e.eval(&form(
            "industry: industrial\nfloor_area: 10\nspecial_fire: true"
        )));
        assert!(!e.eval(&form("industry: commercial\nfloor_area: 30000")));
        let e = parse("not industry in ['commercial'] && start < '2026-01-01'").unwrap();
        assert!(e.check(&fields()).is_empty());
        assert!(e.eval(&form("industry: industrial\nstart: 2025-06-01")));
        assert!(!e.eval(&form("industry: industrial\nstart: 2026-06-01")));
        let e = parse("industry not in ['commercial']").unwrap();
        assert!(e.eval(&form("industry: industrial")));
        assert!(!e.eval(&form("")), "an empty field makes membership false");
    }

    #[test]
    fn syntax_errors_point_at_the_column() {
        let err = parse("industry == 'industrial' and").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Syntax);
        assert_eq!(err.offset, 28);
        let err = parse("floor_area >= ").unwrap_err();
        assert_eq!(err.offset, 14);
        assert!(err.message.contains("expected a value"), "{}", err.message);
        let err = parse("floor_area => 3").unwrap_err();
        assert_eq!(err.offset, 11, "{err:?}");
    }

    #[test]
    fn type_errors_name_the_field_and_column() {
        let errs = parse("floor_area == 'big' or colour == 'red' or industry == 'farm'")
            .unwrap()
            .check(&fields());
        let got: Vec<(usize, ErrorKind)> = errs.iter().map(|e| (e.offset, e.kind)).collect();
        assert_eq!(
            got,
            vec![
                (14, ErrorKind::Type),
                (23, ErrorKind::UnknownField),
                (54, ErrorKind::Type)
            ]
        );
        let errs = parse("industry > 'industrial' or floor_area")
            .unwrap()
            .check(&fields());
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}
