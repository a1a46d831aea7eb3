//! The one application form (一张表单): typed fields a workflow declares, and the values an
//! applicant fills in.
//!
//! Field types are few on purpose: conditions compare them and the one-time notice checks
//! them, so every type must have an obvious comparison and an obvious "wrong value".

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;

/// The type of a form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "values")]
pub enum FieldType {
    /// Free text.
    String,
    /// A number (area, height, investment).
    Number,
    /// Yes or no.
    Bool,
    /// One of a fixed list of values.
    Enum(Vec<String>),
    /// A calendar date, written `YYYY-MM-DD`.
    Date,
}

impl FieldType {
    /// The type's name as the workflow language spells it.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Number => "number",
            FieldType::Bool => "bool",
            FieldType::Enum(_) => "enum",
            FieldType::Date => "date",
        }
    }
}

/// A field of the form.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Stable id, used by conditions and `requires.fields`.
    pub id: String,
    /// Label shown to the applicant.
    pub name: String,
    /// Type of the value.
    #[serde(flatten)]
    pub ty: FieldType,
    /// Whether every application must fill it in.
    pub required: bool,
    /// A number field's smallest allowed value (the workflow's `min`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// A number field's largest allowed value (the workflow's `max`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// An enum field's labels: what people call a value (the workflow's `labels`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A number as a message shows it: in full when it is of everyday size, in scientific
/// notation when it is not (`1e300`, not three hundred digits).
fn shown(n: f64) -> String {
    if n != 0.0 && !(1e-6..1e9).contains(&n.abs()) {
        format!("{n:e}")
    } else {
        format!("{n}")
    }
}

/// The largest magnitude of a form's number whatever the workflow declares: beyond it a
/// double no longer holds every integer, and no floor area or investment comes near.
pub const MAX_NUMBER: f64 = 1e15;

impl Field {
    /// What people call an enum value: its label, or the value itself.
    pub fn label<'a>(&'a self, value: &'a str) -> &'a str {
        self.labels.get(value).map_or(value, String::as_str)
    }

    /// Whether a value fits the field: its type, an enum's list, a number's range.
    ///
    /// # Errors
    /// What is wrong, in words (the one-time notice quotes it).
    pub fn check(&self, v: &Value) -> Result<(), String> {
        match (&self.ty, v) {
            (FieldType::Number, Value::Number(n)) => {
                let shown = shown(*n);
                if !n.is_finite() {
                    return Err(format!("{shown} is not a finite number"));
                }
                if let Some(min) = self.min.filter(|m| n < m) {
                    return Err(format!("{shown} is below the smallest allowed value {min}"));
                }
                if let Some(max) = self.max.filter(|m| n > m) {
                    return Err(format!("{shown} is above the largest allowed value {max}"));
                }
                if n.abs() > MAX_NUMBER {
                    return Err(format!(
                        "{shown} is beyond what a form records (at most {MAX_NUMBER:e} either way)"
                    ));
                }
                Ok(())
            }
            (FieldType::String, Value::String(_))
            | (FieldType::Bool, Value::Bool(_))
            | (FieldType::Date, Value::Date(_)) => Ok(()),
            (FieldType::Enum(values), Value::String(s)) => {
                if values.contains(s) {
                    Ok(())
                } else {
                    Err(format!("'{s}' is not one of [{}]", values.join(", ")))
                }
            }
            (ty, v) => Err(format!("expected a {} value, found {v}", ty.name())),
        }
    }
}

/// A filled-in value. Serialized with its type as the key (`{"number": 3}`), because
/// values live in events for years and a date must stay a date.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// Text or an enum value.
    String(String),
    /// A number.
    Number(f64),
    /// Yes or no.
    Bool(bool),
    /// A date.
    Date(NaiveDate),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::String(s) => write!(f, "'{s}'"),
            Value::Number(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Date(d) => write!(f, "{d}"),
        }
    }
}

/// The values of one application's form, by field id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Form {
    /// Field id → value.
    pub values: BTreeMap<String, Value>,
}

/// Why a form could not be read or does not fit the workflow's fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file is not a YAML mapping of field ids to scalars.
    #[error("{0}")]
    Syntax(String),
    /// A value for a field the workflow does not declare.
    #[error("unknown field `{0}`")]
    UnknownField(String),
    /// A required field is missing.
    #[error("required field `{0}` is missing")]
    Missing(String),
    /// A value of the wrong type, or an enum value outside the list.
    #[error("field `{field}`: {message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with its value.
        message: String,
    },
}

impl Problem {
    /// The field (or unknown key) the problem is about, if any: where to point in the file.
    pub fn field(&self) -> Option<&str> {
        match self {
            Problem::Syntax(_) => None,
            Problem::UnknownField(f) | Problem::Missing(f) => Some(f),
            Problem::Invalid { field, .. } => Some(field),
        }
    }
}

impl Form {
    /// Reads a form from YAML text (`field: value` lines) and checks it against `fields`,
    /// reporting every problem at once, the way the one-time notice must.
    ///
    /// # Errors
    /// Every unknown field, missing required field and ill-typed value.
    pub fn parse(text: &str, fields: &[Field]) -> Result<Form, Vec<Problem>> {
        crate::textfile::check_yaml(text).map_err(|p| {
            vec![Problem::Syntax(format!(
                "line {} column {}: {}",
                p.line, p.column, p.message
            ))]
        })?;
        let raw: BTreeMap<String, serde_yaml::Value> = if text.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_yaml::from_str(text).map_err(|e| vec![Problem::Syntax(e.to_string())])?
        };
        let mut problems = Vec::new();
        let mut values = BTreeMap::new();
        let mut invalid = std::collections::BTreeSet::new();
        for (id, v) in raw {
            let Some(field) = fields.iter().find(|f| f.id == id) else {
                problems.push(Problem::UnknownField(id));
                continue;
            };
            match coerce(&field.ty, &v)
                .map_err(|e| e.to_string())
                .and_then(|value| {
                    field.check(&value)?;
                    Ok(value)
                }) {
                Ok(value) => {
                    values.insert(id, value);
                }
                Err(e) => {
                    invalid.insert(id.clone());
                    problems.push(Problem::Invalid {
                        field: id,
                        message: e,
                    });
                }
            }
        }
        // A required field given with the wrong type is reported once, as wrong.
        for f in fields {
            if f.required && !values.contains_key(&f.id) && !invalid.contains(&f.id) {
                problems.push(Problem::Missing(f.id.clone()));
            }
        }
        if problems.is_empty() {
            Ok(Form { values })
        } else {
            Err(problems)
        }
    }

    /// Reads a form file; see [`Form::parse`].
    ///
    /// # Errors
    /// An unreadable file, or every problem [`Form::parse`] finds.
    pub fn load(path: &Path, fields: &[Field]) -> Result<Form, Vec<Problem>> {
        let text = crate::textfile::read(path).map_err(|e| vec![Problem::Syntax(e.to_string())])?;
        Form::parse(&text, fields)
    }
}

/// Why a YAML value does not fit a field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// A number that is not finite.
    #[error("{0} is not a finite number")]
    NotFinite(String),
    /// An enum field's value outside its list.
    #[error("'{value}' is not one of [{}]", allowed.join(", "))]
    NotAllowed {
        /// The value given.
        value: String,
        /// The field's values.
        allowed: Vec<String>,
    },
    /// A date field's value that is not `YYYY-MM-DD`.
    #[error("'{0}' is not a date (YYYY-MM-DD)")]
    NotADate(String),
    /// A value of another type altogether.
    #[error("expected a {expected} value, found {found}")]
    WrongType {
        /// The field's type.
        expected: &'static str,
        /// The value given, on one line.
        found: String,
    },
}

/// Converts a YAML scalar to a value of the given field type.
///
/// # Errors
/// A [`Mismatch`] saying what was expected.
pub fn coerce(ty: &FieldType, v: &serde_yaml::Value) -> Result<Value, Mismatch> {
    use serde_yaml::Value as Y;
    match (ty, v) {
        (FieldType::String, Y::String(s)) => Ok(Value::String(s.clone())),
        (FieldType::String, Y::Number(n)) => Ok(Value::String(n.to_string())),
        (FieldType::Number, Y::Number(n)) => n
            .as_f64()
            .map(Value::Number)
            .ok_or_else(|| Mismatch::NotFinite(n.to_string())),
        (FieldType::Bool, Y::Bool(b)) => Ok(Value::Bool(*b)),
        (FieldType::Enum(values), Y::String(s)) => {
            if values.contains(s) {
                Ok(Value::String(s.clone()))
            } else {
                Err(Mismatch::NotAllowed {
                    value: s.clone(),
                    allowed: values.clone(),
                })
            }
        }
        (FieldType::Date, Y::String(s)) => s
            .parse::<NaiveDate>()
            .map(Value::Date)
            .map_err(|_| Mismatch::NotADate(s.clone())),
        (ty, v) => Err(Mismatch::WrongType {
            expected: ty.name(),
            found: serde_yaml::to_string(v)
                .unwrap_or_default()
                .trim_end()
                .replace('\n', " "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(min: Option<f64>, max: Option<f64>) -> Field {
        Field {
            id: "floor_area".into(),
            name: "总建筑面积".into(),
            ty: FieldType::Number,
            required: true,
            min,
            max,
            labels: Default::default(),
        }
    }

    #[test]
    fn a_number_is_within_its_fields_range_and_the_platforms() {
        let f = area(Some(1.0), Some(1e7));
        assert!(f.check(&Value::Number(1.0)).is_ok());
        assert!(f.check(&Value::Number(1e7)).is_ok());
        let below = f.check(&Value::Number(-1.0)).unwrap_err();
        assert!(
            below.contains("below the smallest allowed value 1"),
            "{below}"
        );
        let above = f.check(&Value::Number(1e300)).unwrap_err();
        assert!(above.contains("above the largest"), "{above}");
        // Undeclared: only the platform's bound.
        let free = area(None, None);
        assert!(free.check(&Value::Number(-5.0)).is_ok());
        let absurd = free.check(&Value::Number(1e300)).unwrap_err();
        assert!(absurd.contains("beyond what a form records"), "{absurd}");
        assert!(free.check(&Value::Number(f64::NAN)).is_err());
        assert!(free.check(&Value::String("3".into())).is_err());
        // A form file gets the same answer.
        let problems = Form::parse("floor_area: -1\n", &[f]).unwrap_err();
        assert!(
            matches!(&problems[0], Problem::Invalid { field, message } if field == "floor_area" && message.contains("below")),
            "{problems:?}"
        );
    }
}
