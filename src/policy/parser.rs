//! oslo.policy's rule language: `role:admin or (role:reader and project_id:%(project_id)s)`.
//!
//! The grammar is oslo's (`oslo_policy/_parser.py`): whitespace separates tokens, `(` and
//! `)` may stick to a token's start and end, `and`, `or` and `not` are keywords in any
//! case, `not` binds tighter than `and`, which binds tighter than `or`. A check is `@`
//! (always), `!` (never) or `kind:match`. oslo logs an unparsable rule and treats it as
//! `!`; Clinker refuses to start instead, since a typo in a policy file that silently
//! denies (or, worse, a typo that silently allows through an `or`) is only found by
//! the users it locks out.

use std::fmt;

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `@`, or an empty rule.
    Always,
    /// `!`.
    Never,
    /// `rule:NAME`: the rule of that name (false when there is none, as in oslo).
    Rule(String),
    /// `role:NAME`: the caller holds that role (compared without case).
    Role(Template),
    /// `kind:match`: a credential (or a literal) equal to the match.
    Generic {
        /// What is compared: a credential by its dotted path, or a Python literal.
        kind: Kind,
        /// What it must equal, after `%(name)s` is filled from the target.
        matcher: Template,
    },
    /// `not CHECK`.
    Not(Box<Check>),
    /// `A and B and ...`.
    And(Vec<Check>),
    /// `A or B or ...`.
    Or(Vec<Check>),
}

/// The left side of a generic check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A Python literal (`'Member'`, `True`, `42`), as `str()` prints it.
    Literal(String),
    /// A path into the credentials: `project_id`, `roles`, `token.user.id`.
    Path(Vec<String>),
}

/// A match string with `%(name)s` holes that the target fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

impl Template {
    /// The text with every hole filled by `lookup`; `None` when a hole names nothing in
    /// the target (oslo's `KeyError`, which makes the check false).
    pub fn render(&self, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&lookup(v)?),
            }
        }
        Some(out)
    }

    /// Python's `text % target`: `%(name)s` is a hole, `%%` a percent sign; any other
    /// `%` would raise in Python (at every check), so it is refused here, once.
    fn parse(text: &str, at: usize) -> Result<Self, ParseError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('%') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('%') {
                lit.push('%');
                rest = tail;
                continue;
            }
            let hole = after
                .strip_prefix('(')
                .and_then(|a| a.split_once(")s"))
                .filter(|(name, _)| !name.is_empty() && !name.contains(')'));
            let Some((name, tail)) = hole else {
                let pct = text.len() - after.len() - 1;
                return Err(ParseError {
                    position: at + text[..pct].chars().count(),
                    message: "a '%' must start '%(name)s' or be doubled".into(),
                });
            };
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(Part::Var(name.to_string()));
            rest = tail;
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Self(parts))
    }
}

/// Why a rule does not parse, and where (a 1-based character position in the rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    /// 1-based character position of the offending token.
    pub position: usize,
    /// What is wrong there.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    Check(Check),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tok::Open => "'('",
            Tok::Close => "')'",
            Tok::And => "'and'",
            Tok::Or => "'or'",
            Tok::Not => "'not'",
            Tok::Check(_) => "a check (is an 'and' or 'or' missing?)",
        })
    }
}

/// Parses a rule. An empty rule always passes, as in oslo.
pub fn parse(rule: &str) -> Result<Check, ParseError> {
    if rule.is_empty() {
        return Ok(Check::Always);
    }
    let toks = tokenize(rule)?;
    let mut p = Parser { toks, next: 0 };
    let end = rule.chars().count() + 1;
    let check = p.or_expr(end)?;
    match p.toks.get(p.next) {
        None => Ok(check),
        Some((pos, t)) => Err(ParseError {
            position: *pos,
            message: format!("unexpected {t}"),
        }),
    }
}

/// Splits on whitespace; each word may carry `(`s in front and `)`s behind. Positions
/// are 1-based characters.
fn tokenize(rule: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let mut out = Vec::new();
    let mut chars = rule.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut end = rule.len();
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                end = i;
                break;
            }
            chars.next();
        }
        word(rule, start, &rule[start..end], &mut out)?;
    }
    Ok(out)
}

fn word(rule: &str, start: usize, w: &str, out: &mut Vec<(usize, Tok)>) -> Result<(), ParseError> {
    let pos = |byte: usize| rule[..byte].chars().count() + 1;
    let inner = w.trim_start_matches('(');
    let opens = w.len() - inner.len();
    for i in 0..opens {
        out.push((pos(start + i), Tok::Open));
    }
    let core = inner.trim_end_matches(')');
    let core_at = start + opens;
    if !core.is_empty() {
        let tok = match core.to_ascii_lowercase().as_str() {
            "and" => Tok::And,
            "or" => Tok::Or,
            "not" => Tok::Not,
            _ => Tok::Check(check(core, pos(core_at))?),
        };
        out.push((pos(core_at), tok));
    }
    for i in 0..inner.len() - core.len() {
        out.push((pos(core_at + core.len() + i), Tok::Close));
    }
    Ok(())
}

/// One check: `@`, `!`, `rule:`, `role:` or a generic `kind:match`.
fn check(text: &str, at: usize) -> Result<Check, ParseError> {
    let err = |message: String| ParseError {
        position: at,
        message,
    };
    match text {
        "@" => return Ok(Check::Always),
        "!" => return Ok(Check::Never),
        _ => {}
    }
    let quoted = |s: &str| {
        s.len() >= 2
            && ((s.starts_with('"') && s.ends_with('"'))
                || (s.starts_with('\'') && s.ends_with('\'')))
    };
    if quoted(text) {
        return Err(err(format!("unexpected quoted string {text}")));
    }
    let Some((kind, matcher)) = text.split_once(':') else {
        return Err(err(format!(
            "'{text}' is not a check: expected 'kind:match', '@' or '!'"
        )));
    };
    let match_at = at + kind.chars().count() + 1;
    match kind {
        "rule" if matcher.is_empty() => Err(err("'rule:' names no rule".into())),
        "rule" => Ok(Check::Rule(matcher.to_string())),
        "role" => Ok(Check::Role(Template::parse(matcher, match_at)?)),
        // oslo would call out to a URL for every request: not supported.
        "http" | "https" => Err(err(format!("'{kind}:' checks are not supported"))),
        "" => Err(err(format!("'{text}' has no kind before ':'"))),
        _ => Ok(Check::Generic {
            kind: literal(kind).map_or_else(
                || Kind::Path(kind.split('.').map(str::to_string).collect()),
                Kind::Literal,
            ),
            matcher: Template::parse(matcher, match_at)?,
        }),
    }
}

/// The `str()` of a kind that Python's `ast.literal_eval` reads: a quoted string, `True`,
/// `False`, `None` or an integer. Anything else is a credential path.
fn literal(kind: &str) -> Option<String> {
    let unquoted = kind
        .strip_prefix('\'')
        .and_then(|k| k.strip_suffix('\''))
        .or_else(|| kind.strip_prefix('"').and_then(|k| k.strip_suffix('"')));
    if let Some(s) = unquoted.filter(|_| kind.len() >= 2) {
        return Some(s.to_string());
    }
    if matches!(kind, "True" | "False" | "None") {
        return Some(kind.to_string());
    }
    kind.parse::<i64>().ok().map(|n| n.to_string())
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.next).map(|(_, t)| t)
    }

    fn or_expr(&mut self, end: usize) -> Result<Check, ParseError> {
        self.chain(end, &Tok::Or, Self::and_expr, Check::Or)
    }

    fn and_expr(&mut self, end: usize) -> Result<Check, ParseError> {
        self.chain(end, &Tok::And, Self::unary, Check::And)
    }

    /// `item (op item)*`, one item standing for itself.
    fn chain(
        &mut self,
        end: usize,
        op: &Tok,
        item: fn(&mut Self, usize) -> Result<Check, ParseError>,
        join: fn(Vec<Check>) -> Check,
    ) -> Result<Check, ParseError> {
        let mut items = vec![item(self, end)?];
        while self.peek() == Some(op) {
            self.next += 1;
            items.push(item(self, end)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            join(items)
        })
    }

    fn unary(&mut self, end: usize) -> Result<Check, ParseError> {
        let Some((pos, tok)) = self.toks.get(self.next).cloned() else {
            return Err(ParseError {
                position: end,
                message: "the rule ends where a check was expected".into(),
            });
        };
        self.next += 1;
        match tok {
            Tok::Check(c) => Ok(c),
            Tok::Not => Ok(Check::Not(Box::new(self.unary(end)?))),
            Tok::Open => {
                let inner = self.or_expr(end)?;
                match self.toks.get(self.next) {
                    Some((_, Tok::Close)) => {
                        self.next += 1;
                        Ok(inner)
                    }
                    Some((p, t)) => Err(ParseError {
                        position: *p,
                        message: format!("expected ')' but found {t}"),
                    }),
                    None => Err(ParseError {
                        position: pos,
                        message: "this '(' is never closed".into(),
                    }),
                }
            }
            other => Err(ParseError {
                position: pos,
                message: format!("expected a check but found {other}"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Check, Kind, ParseError, Template, parse};

    fn role(r: &str) -> Check {
        Check::Role(Template(vec![super::Part::Text(r.into())]))
    }

    fn project_is_target() -> Check {
        Check::Generic {
            kind: Kind::Path(vec!["project_id".into()]),
            matcher: Template(vec![super::Part::Var("project_id".into())]),
        }
    }

    #[test]
    fn cinders_reader_rule_parses_with_and_above_or() -> Result<(), ParseError> {
        let want = Check::Or(vec![
            role("admin"),
            Check::And(vec![role("reader"), project_is_target()]),
        ]);
        assert_eq!(
            parse("role:admin or (role:reader and project_id:%(project_id)s)")?,
            want
        );
        // Without the parentheses: `and` still binds tighter, as in oslo.
        assert_eq!(
            parse("role:admin or role:reader and project_id:%(project_id)s")?,
            want
        );
        Ok(())
    }

    #[test]
    fn keywords_any_case_not_binds_tightest_and_parens_stick_to_words() -> Result<(), ParseError> {
        assert_eq!(
            parse("NOT role:a AND role:b")?,
            Check::And(vec![Check::Not(Box::new(role("a"))), role("b")])
        );
        assert_eq!(
            parse("not (role:a or role:b)")?,
            Check::Not(Box::new(Check::Or(vec![role("a"), role("b")])))
        );
        assert_eq!(
            parse("((role:a))")?,
            role("a"),
            "parentheses stuck to a word"
        );
        assert_eq!(
            parse("not not @")?,
            Check::Not(Box::new(Check::Not(Box::new(Check::Always))))
        );
        Ok(())
    }

    #[test]
    fn empty_always_and_never() -> Result<(), ParseError> {
        assert_eq!(parse("")?, Check::Always);
        assert_eq!(parse("@")?, Check::Always);
        assert_eq!(parse("!")?, Check::Never);
        assert_eq!(parse("rule:admin_api")?, Check::Rule("admin_api".into()));
        Ok(())
    }

    #[test]
    fn generic_kinds_are_paths_or_python_literals() -> Result<(), ParseError> {
        let kind_of = |rule: &str| match parse(rule) {
            Ok(Check::Generic { kind, .. }) => Some(kind),
            _ => None,
        };
        assert_eq!(
            kind_of("is_admin:True"),
            Some(Kind::Path(vec!["is_admin".into()]))
        );
        assert_eq!(
            kind_of("'Member':%(role.name)s"),
            Some(Kind::Literal("Member".into()))
        );
        assert_eq!(
            kind_of("True:%(user.enabled)s"),
            Some(Kind::Literal("True".into()))
        );
        assert_eq!(kind_of("42:%(n)s"), Some(Kind::Literal("42".into())));
        assert_eq!(
            kind_of("token.user.id:%(user_id)s"),
            Some(Kind::Path(vec!["token".into(), "user".into(), "id".into()]))
        );
        // Only the first colon splits: `role:compute:admin` is the role `compute:admin`.
        assert_eq!(parse("role:compute:admin")?, role("compute:admin"));
        Ok(())
    }

    #[test]
    fn templates_fill_holes_and_a_missing_key_fails() -> Result<(), ParseError> {
        let t = Template::parse("p-%(project_id)s-%%-%(user_id)s", 1)?;
        let full = t.render(|k| Some(k.to_uppercase()));
        assert_eq!(full.as_deref(), Some("p-PROJECT_ID-%-USER_ID"));
        assert_eq!(t.render(|k| (k == "project_id").then(|| "x".into())), None);
        Ok(())
    }

    #[test]
    fn errors_name_the_position() {
        let at = |rule: &str| parse(rule).map_err(|e| (e.position, e.message));
        assert_eq!(
            at("role:admin or"),
            Err((14, "the rule ends where a check was expected".into()))
        );
        assert!(matches!(at("role:a role:b"), Err((8, m)) if m.contains("missing")));
        assert!(matches!(at("(role:a or role:b"), Err((1, _))));
        assert!(matches!(at("role:a)"), Err((7, _))));
        assert!(matches!(at("admin"), Err((1, m)) if m.contains("not a check")));
        assert!(matches!(
            at("role:admin and project_id:%(project_id)"),
            Err((27, _))
        ));
        assert!(matches!(at("project_id:50%"), Err((14, _))));
        assert!(matches!(at("http://example.com/check"), Err((1, _))));
        assert!(matches!(at("'quoted'"), Err((1, _))));
        assert!(matches!(at("   "), Err((4, _))));
        assert!(matches!(at("rule:"), Err((1, _))));
        assert!(matches!(at("and role:a"), Err((1, _))));
        assert!(
            matches!(at("é or"), Err((1, _))),
            "positions count characters"
        );
        assert!(
            matches!(at("role:é or"), Err((10, _))),
            "positions count characters"
        );
    }
}
