//! Matching one capability value against one extra-spec requirement, as Cinder's
//! `scheduler/filters/extra_specs_ops.py` does (cinder-internals.md §5.3).
//!
//! Cinder compares Python objects, so a value keeps its JSON type here: a bool or a number
//! never equals a string under plain equality or `s==`, exactly as in Cinder. Use `<is>`
//! for booleans and the numeric operators for numbers.

/// One capability value, borrowed from the pool's figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CapValue<'a> {
    /// A string.
    Str(&'a str),
    /// A boolean.
    Bool(bool),
    /// A number. `integer` says whether Python would hold it as an `int`, which changes
    /// how `<is>` reads it (`1` is true, `1.0` is not).
    Number {
        /// The value.
        value: f64,
        /// Held as an integer.
        integer: bool,
    },
    /// A list or a mapping: only `s!=` can match it.
    Other,
}

/// The operators, named after what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `=`: numeric at least (the same as `>=`).
    AtLeast,
    /// `<in>`: substring.
    In,
    /// `<is>`: boolean.
    Is,
    /// `<or>`: exact match of any option.
    Or,
    /// `==`
    NumEq,
    /// `!=`
    NumNe,
    /// `>=`
    NumGe,
    /// `<=`
    NumLe,
    /// `s==`
    StrEq,
    /// `s!=`
    StrNe,
    /// `s<`
    StrLt,
    /// `s<=`
    StrLe,
    /// `s>`
    StrGt,
    /// `s>=`
    StrGe,
}

impl Op {
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "=" => Op::AtLeast,
            "<in>" => Op::In,
            "<is>" => Op::Is,
            "<or>" => Op::Or,
            "==" => Op::NumEq,
            "!=" => Op::NumNe,
            ">=" => Op::NumGe,
            "<=" => Op::NumLe,
            "s==" => Op::StrEq,
            "s!=" => Op::StrNe,
            "s<" => Op::StrLt,
            "s<=" => Op::StrLe,
            "s>" => Op::StrGt,
            "s>=" => Op::StrGe,
            _ => return None,
        })
    }
}

/// Whether `value` satisfies `req`. The first word of `req` picks the operator; when it is
/// not one, the whole `req` must equal the value as a string.
pub fn matches(value: CapValue<'_>, req: &str) -> bool {
    // Every operator starts with one of these bytes; skip the word split for plain values,
    // which are most specs, since this runs for every pool.
    if !matches!(
        req.trim_start().as_bytes().first(),
        Some(b'=' | b'<' | b'!' | b'>' | b's')
    ) {
        return value == CapValue::Str(req);
    }
    let mut words = req.split_whitespace();
    let Some(op) = words.next().and_then(Op::parse) else {
        return value == CapValue::Str(req);
    };
    if op == Op::Or {
        // `<or> a <or> b`: options sit at every other word; Cinder never checks that the
        // words between them really are `<or>`.
        return match value {
            CapValue::Str(s) => words.step_by(2).any(|option| option == s),
            _ => false,
        };
    }
    // Only the first word after the operator counts.
    let Some(arg) = words.next() else {
        return false;
    };
    match op {
        Op::Is => python_bool(value) == str_to_bool(arg),
        Op::In => matches!(value, CapValue::Str(s) if s.contains(arg)),
        Op::AtLeast | Op::NumGe => numeric(value, arg, |a, b| a >= b),
        Op::NumEq => numeric(value, arg, |a, b| a == b),
        Op::NumNe => numeric(value, arg, |a, b| a != b),
        Op::NumLe => numeric(value, arg, |a, b| a <= b),
        // Python's `!=` between a string and anything else is true; `==` false.
        Op::StrEq => matches!(value, CapValue::Str(s) if s == arg),
        Op::StrNe => !matches!(value, CapValue::Str(s) if s == arg),
        Op::StrLt => matches!(value, CapValue::Str(s) if s < arg),
        Op::StrLe => matches!(value, CapValue::Str(s) if s <= arg),
        Op::StrGt => matches!(value, CapValue::Str(s) if s > arg),
        Op::StrGe => matches!(value, CapValue::Str(s) if s >= arg),
        Op::Or => false,
    }
}

/// `float(value) <op> float(arg)`; a value or argument that is not a number never matches.
fn numeric(value: CapValue<'_>, arg: &str, cmp: fn(f64, f64) -> bool) -> bool {
    let value = match value {
        CapValue::Str(s) => s.trim().parse::<f64>().ok(),
        // Python's float(True) is 1.0.
        CapValue::Bool(b) => Some(f64::from(u8::from(b))),
        CapValue::Number { value, .. } => Some(value),
        CapValue::Other => None,
    };
    match (value, arg.trim().parse::<f64>()) {
        (Some(v), Ok(a)) => cmp(v, a),
        _ => false,
    }
}

/// oslo's `strutils.bool_from_string(value)` with its default of `False`.
fn python_bool(value: CapValue<'_>) -> bool {
    match value {
        CapValue::Bool(b) => b,
        CapValue::Str(s) => str_to_bool(s),
        // str(1) is "1", a true string; str(1.0) is "1.0", which is not.
        CapValue::Number { value, integer } => integer && value == 1.0,
        CapValue::Other => false,
    }
}

/// `bool_from_string` on a string: one of `1 t true on y yes`, any case, is true.
fn str_to_bool(s: &str) -> bool {
    let s = s.trim();
    ["1", "t", "true", "on", "y", "yes"]
        .iter()
        .any(|t| s.eq_ignore_ascii_case(t))
}

#[cfg(test)]
mod tests {
    use super::CapValue::{Bool, Number, Other, Str};
    use super::*;

    fn int(value: f64) -> CapValue<'static> {
        Number {
            value,
            integer: true,
        }
    }

    fn float(value: f64) -> CapValue<'static> {
        Number {
            value,
            integer: false,
        }
    }

    #[test]
    fn plain_string_equality() {
        assert!(matches(Str("lvm"), "lvm"));
        assert!(!matches(Str("lvm"), "LVM"));
        // The whole requirement counts, spaces included.
        assert!(!matches(Str("fast disk"), "fast  disk"));
        assert!(matches(Str(""), ""));
        // A bool or number is never equal to a string, as in Python.
        assert!(!matches(Bool(true), "True"));
        assert!(!matches(int(10.0), "10"));
    }

    #[test]
    fn is_compares_booleans() {
        for v in [
            Bool(true),
            Str("True"),
            Str("true"),
            Str(" yes "),
            Str("1"),
            int(1.0),
        ] {
            assert!(matches(v, "<is> True"), "{v:?}");
            assert!(!matches(v, "<is> False"), "{v:?}");
        }
        for v in [
            Bool(false),
            Str("False"),
            Str("no"),
            Str("garbage"),
            float(1.0),
        ] {
            assert!(matches(v, "<is> False"), "{v:?}");
            assert!(!matches(v, "<is> true"), "{v:?}");
        }
        assert!(!matches(Bool(true), "<is>"));
    }

    #[test]
    fn in_is_substring() {
        assert!(matches(Str("ssd-fast"), "<in> fast"));
        assert!(!matches(Str("hdd-slow"), "<in> fast"));
        assert!(!matches(Bool(true), "<in> rue"));
        assert!(!matches(int(123.0), "<in> 2"));
    }

    #[test]
    fn or_matches_any_option_exactly() {
        assert!(matches(Str("b"), "<or> a <or> b <or> c"));
        assert!(matches(Str("a"), "<or> a"));
        assert!(!matches(Str("d"), "<or> a <or> b <or> c"));
        assert!(!matches(Str("ab"), "<or> a <or> b"));
        // Only every other word is an option.
        assert!(!matches(Str("<or>"), "<or> a <or> b"));
        assert!(!matches(Str("a"), "<or>"));
        assert!(!matches(Bool(true), "<or> True <or> False"));
    }

    #[test]
    fn single_equals_means_at_least() {
        assert!(matches(Str("10"), "= 10"));
        assert!(matches(Str("11.5"), "= 10"));
        assert!(matches(int(100.0), "= 10"));
        assert!(!matches(Str("9"), "= 10"));
    }

    #[test]
    fn numeric_comparisons() {
        assert!(matches(Str("10"), "== 10.0"));
        assert!(!matches(Str("10.1"), "== 10"));
        assert!(matches(Str("3"), "!= 4"));
        assert!(!matches(Str("4"), "!= 4"));
        assert!(matches(float(4.0), ">= 4"));
        assert!(!matches(float(3.9), ">= 4"));
        assert!(matches(Str(" 2 "), "<= 2"));
        assert!(!matches(Str("2.5"), "<= 2"));
        // Python's float(True) is 1.
        assert!(matches(Bool(true), "== 1"));
    }

    #[test]
    fn numeric_parse_error_is_no_match() {
        assert!(!matches(Str("lots"), ">= 1"));
        assert!(!matches(Str("5"), ">= lots"));
        assert!(!matches(Str("5"), "!= x"));
        assert!(!matches(Other, "<= 1"));
        assert!(!matches(Str("5"), "=="));
    }

    #[test]
    fn string_comparisons() {
        assert!(matches(Str("abc"), "s== abc"));
        assert!(!matches(Str("abd"), "s== abc"));
        assert!(matches(Str("abd"), "s!= abc"));
        assert!(!matches(Str("abc"), "s!= abc"));
        assert!(matches(Str("abb"), "s< abc"));
        assert!(!matches(Str("abc"), "s< abc"));
        assert!(matches(Str("abc"), "s<= abc"));
        assert!(!matches(Str("abd"), "s<= abc"));
        assert!(matches(Str("abd"), "s> abc"));
        assert!(!matches(Str("abc"), "s> abc"));
        assert!(matches(Str("abc"), "s>= abc"));
        assert!(!matches(Str("abb"), "s>= abc"));
        // Lexical, not numeric: "10" < "9".
        assert!(matches(Str("10"), "s< 9"));
    }

    #[test]
    fn string_operators_on_other_types() {
        assert!(!matches(int(5.0), "s== 5"));
        assert!(matches(int(5.0), "s!= 5"));
        assert!(matches(Other, "s!= x"));
        assert!(!matches(Bool(true), "s< z"));
    }
}
