//! Cinder's policy: who may do what, in oslo.policy's rule language.
//!
//! The [`Enforcer`] holds one parsed rule per name: Cinder's defaults
//! ([`defaults`]), each replaceable by the operator's `policy_file`. It is built once at
//! start, where a rule that does not parse or that refers to itself stops start-up; after
//! that a check cannot fail, only answer yes or no.
//!
//! A check sees the caller's credentials (user, project, roles, whether the context is an
//! admin one) and a target, the project owning what is acted on, as oslo.policy's
//! `enforce(rule, target, creds)` does in Cinder.

pub mod defaults;
pub mod parser;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use defaults::Action;
use parser::{Check, Kind, ParseError};

use crate::model::RequestContext;

/// Why a policy could not be loaded. Each stops start-up.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy_file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a map of rule names to rule strings.
    #[error(
        "policy_file {path} is not a YAML (or JSON) map of rule names to rule strings: {message}"
    )]
    Format {
        /// The file.
        path: String,
        /// The YAML parser's message.
        message: String,
    },
    /// A rule does not parse.
    #[error("policy_file {path}: rule '{rule}': {source}")]
    Rule {
        /// The file.
        path: String,
        /// The rule's name.
        rule: String,
        /// What is wrong, and where in the rule.
        source: ParseError,
    },
    /// A rule refers to itself, directly or through others: oslo would recurse until the
    /// interpreter gives up, on every request that checks it.
    #[error("policy_file {path}: rule '{rule}' refers back to itself: {cycle}")]
    Cycle {
        /// The file.
        path: String,
        /// The first rule found on the loop.
        rule: String,
        /// The loop, `a -> b -> a`.
        cycle: String,
    },
}

/// What a check is about: the project owning the resource (Cinder's
/// `target['project_id']`) and, where one is known, its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The owning project.
    pub project_id: &'a str,
    /// The owning user, where the resource has one.
    pub user_id: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// A target owned by `project_id`.
    pub fn project(project_id: &'a str) -> Self {
        Self {
            project_id,
            user_id: None,
        }
    }

    fn get(&self, key: &str) -> Option<String> {
        match key {
            "project_id" => Some(self.project_id.to_string()),
            "user_id" => self.user_id.map(str::to_string),
            _ => None,
        }
    }
}

/// A refusal: Cinder's `PolicyNotAuthorized`, which the API answers 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Policy doesn't allow {} to be performed.", .0.name())]
pub struct Denied(pub Action);

/// The caller's side of a check (oslo's `creds`).
#[derive(Debug, Clone, Copy)]
struct Creds<'a> {
    user_id: &'a str,
    project_id: &'a str,
    roles: &'a [String],
    is_admin: bool,
}

/// A credential's value, as a generic check compares it (`str()` of the value; a list
/// matches when one element does).
enum Cred<'a> {
    Text(&'a str),
    Flag(bool),
    List(&'a [String]),
}

impl Creds<'_> {
    fn get(&self, path: &[String]) -> Option<Cred<'_>> {
        match path {
            [k] if k == "user_id" => Some(Cred::Text(self.user_id)),
            // A token scoped to no project (system, domain) has none: as in oslo, where the
            // key is then missing, `project_id:%(project_id)s` is false for it.
            [k] if k == "project_id" => {
                (!self.project_id.is_empty()).then_some(Cred::Text(self.project_id))
            }
            [k] if k == "roles" => Some(Cred::List(self.roles)),
            [k] if k == "is_admin" => Some(Cred::Flag(self.is_admin)),
            // Keystone sets it true when no admin project is configured; Clinker has none.
            [k] if k == "is_admin_project" => Some(Cred::Flag(true)),
            // No system or domain scope, no token body: such checks are false, as in
            // oslo when the key is missing.
            _ => None,
        }
    }
}

/// Every rule by name, parsed: the one policy of this process.
#[derive(Debug, Clone)]
pub struct Enforcer {
    rules: HashMap<String, Check>,
}

/// How deep `rule:` references may nest. Cycles are refused at load, so this only
/// bounds a long legitimate chain; past it the check is false.
const MAX_DEPTH: usize = 64;

impl Enforcer {
    /// Cinder's defaults with `policy_file`'s rules over them, or the defaults alone.
    pub fn load(policy_file: Option<&Path>) -> Result<Self, PolicyError> {
        let Some(path) = policy_file else {
            return Self::with_overrides(BTreeMap::new(), "(defaults)");
        };
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_text(&text, &path.display().to_string())
    }

    /// Cinder's defaults with the rules of a policy file's text over them; `origin` names
    /// the file in errors.
    pub fn from_text(text: &str, origin: &str) -> Result<Self, PolicyError> {
        // An empty file (YAML null) overrides nothing, as in oslo.
        let map: Option<BTreeMap<String, String>> =
            serde_norway::from_str(text).map_err(|e| PolicyError::Format {
                path: origin.to_string(),
                message: e.to_string(),
            })?;
        Self::with_overrides(map.unwrap_or_default(), origin)
    }

    fn with_overrides(
        overrides: BTreeMap<String, String>,
        origin: &str,
    ) -> Result<Self, PolicyError> {
        let defaults = defaults::BASE_RULES
            .iter()
            .copied()
            .chain(Action::ALL.iter().map(|a| (a.name(), a.default_rule())));
        let mut texts: BTreeMap<String, String> = defaults
            .map(|(n, r)| (n.to_string(), r.to_string()))
            .collect();
        texts.extend(overrides);
        let mut rules = HashMap::new();
        for (name, text) in texts {
            let check = parser::parse(&text).map_err(|source| PolicyError::Rule {
                path: origin.to_string(),
                rule: name.clone(),
                source,
            })?;
            rules.insert(name, check);
        }
        let enforcer = Self { rules };
        enforcer.refuse_cycles(origin)?;
        enforcer.warn_dangling();
        Ok(enforcer)
    }

    /// Whether `ctx` may do `action` on something `target` owns.
    pub fn allows(&self, ctx: &RequestContext, action: Action, target: &Target<'_>) -> bool {
        let creds = Creds {
            user_id: &ctx.user_id,
            project_id: &ctx.project_id,
            roles: &ctx.roles,
            is_admin: ctx.is_admin,
        };
        self.check_named(action.name(), &creds, target, 0)
    }

    /// [`Enforcer::allows`], refusing with Cinder's message.
    pub fn authorize(
        &self,
        ctx: &RequestContext,
        action: Action,
        target: &Target<'_>,
    ) -> Result<(), Denied> {
        if self.allows(ctx, action, target) {
            Ok(())
        } else {
            Err(Denied(action))
        }
    }

    /// Cinder's `context_is_admin`: whether a caller with these roles gets an admin
    /// context (sees every project, may use `all_tenants`). `is_admin:True` inside that
    /// very rule reads false, since it is what is being decided.
    pub fn is_admin(&self, user_id: &str, project_id: &str, roles: &[String]) -> bool {
        let creds = Creds {
            user_id,
            project_id,
            roles,
            is_admin: false,
        };
        self.check_named("context_is_admin", &creds, &Target::project(project_id), 0)
    }

    fn check_named(
        &self,
        name: &str,
        creds: &Creds<'_>,
        target: &Target<'_>,
        depth: usize,
    ) -> bool {
        // A rule nobody defined is false (oslo's `RuleCheck` on a `KeyError`).
        depth < MAX_DEPTH
            && self
                .rules
                .get(name)
                .is_some_and(|c| self.eval(c, creds, target, depth + 1))
    }

    fn eval(&self, c: &Check, creds: &Creds<'_>, target: &Target<'_>, depth: usize) -> bool {
        let fill = |t: &parser::Template| t.render(|k| target.get(k));
        match c {
            Check::Always => true,
            Check::Never => false,
            Check::Rule(name) => self.check_named(name, creds, target, depth),
            Check::Role(t) => fill(t).is_some_and(|want| {
                creds
                    .roles
                    .iter()
                    .any(|r| r.to_lowercase() == want.to_lowercase())
            }),
            Check::Generic { kind, matcher } => {
                let Some(want) = fill(matcher) else {
                    return false;
                };
                match kind {
                    Kind::Literal(v) => *v == want,
                    Kind::Path(p) => match creds.get(p) {
                        Some(Cred::Text(v)) => v == want,
                        Some(Cred::Flag(b)) => want == if b { "True" } else { "False" },
                        Some(Cred::List(items)) => items.contains(&want),
                        None => false,
                    },
                }
            }
            Check::Not(inner) => !self.eval(inner, creds, target, depth),
            Check::And(items) => items.iter().all(|i| self.eval(i, creds, target, depth)),
            Check::Or(items) => items.iter().any(|i| self.eval(i, creds, target, depth)),
        }
    }

    /// Refuses a rule that reaches itself through `rule:` references.
    fn refuse_cycles(&self, origin: &str) -> Result<(), PolicyError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        fn visit<'a>(
            e: &'a Enforcer,
            name: &'a str,
            marks: &mut HashMap<&'a str, Mark>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<&'a str>> {
            match marks.get(name) {
                Some(Mark::Done) => return None,
                Some(Mark::Open) => {
                    let start = path.iter().position(|n| *n == name).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(name);
                    return Some(cycle);
                }
                None => {}
            }
            let check = e.rules.get(name)?;
            marks.insert(name, Mark::Open);
            path.push(name);
            let mut refs = Vec::new();
            references(check, &mut refs);
            for r in refs {
                if let Some(c) = visit(e, r, marks, path) {
                    return Some(c);
                }
            }
            path.pop();
            marks.insert(name, Mark::Done);
            None
        }
        let mut marks = HashMap::new();
        let mut names: Vec<&str> = self.rules.keys().map(String::as_str).collect();
        names.sort_unstable();
        for name in names {
            if let Some(cycle) = visit(self, name, &mut marks, &mut Vec::new()) {
                return Err(PolicyError::Cycle {
                    path: origin.to_string(),
                    rule: cycle.first().copied().unwrap_or(name).to_string(),
                    cycle: cycle.join(" -> "),
                });
            }
        }
        Ok(())
    }

    /// Logs `rule:` references to rules nobody defined (always false, as in oslo) and
    /// rules that nothing checks or refers to (a misspelt name overrides nothing).
    fn warn_dangling(&self) {
        let mut referenced = Vec::new();
        for check in self.rules.values() {
            references(check, &mut referenced);
        }
        for r in &referenced {
            if !self.rules.contains_key(*r) {
                tracing::warn!(policy.rule = %r, "a policy rule refers to a rule nobody defined; that check is always false");
            }
        }
        let known = |n: &str| {
            Action::ALL.iter().any(|a| a.name() == n)
                || defaults::BASE_RULES.iter().any(|(b, _)| *b == n)
                || referenced.contains(&n)
        };
        for name in self.rules.keys().filter(|n| !known(n)) {
            tracing::warn!(policy.rule = %name, "a policy rule is neither one Clinker checks nor referred to by one; is its name misspelt?");
        }
    }
}

/// The names a check refers to with `rule:`.
fn references<'a>(c: &'a Check, out: &mut Vec<&'a str>) {
    match c {
        Check::Rule(n) => out.push(n),
        Check::Not(inner) => references(inner, out),
        Check::And(items) | Check::Or(items) => items.iter().for_each(|i| references(i, out)),
        Check::Always | Check::Never | Check::Role(_) | Check::Generic { .. } => {}
    }
}

#[cfg(test)]
mod tests;
