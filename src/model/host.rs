//! Where a volume lives: Cinder's host string `node@backend#pool`.
//!
//! Cinder passes the string around and cuts it where needed (`volume_utils.extract_host`
//! with a level); here it is parsed once, when it is built or read, and the parts are
//! asked for by name. Stored as the same TEXT on both backends (`crate::db::columns`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `node@backend#pool`: the node (a configured name, which holds neither `@` nor `#`),
/// the backend on it (`volume_backend_name`) and the pool of that backend.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[serde(try_from = "String", into = "String")]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Host {
    /// The whole string, kept so the host is shown and stored without being rebuilt.
    text: String,
    /// Where the `@` is.
    at: usize,
    /// Where the `#` is (after `at`).
    hash: usize,
}

/// A string that is not `node@backend#pool`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a host of the form node@backend#pool")]
pub struct InvalidHost(pub String);

impl Host {
    /// The host of `pool` of `backend` on `node`. The configuration keeps `@` and `#` out
    /// of node and backend names (and both non-empty), so the string reads back as the
    /// same parts; a pool name may hold anything.
    pub fn new(node: &str, backend: &str, pool: &str) -> Host {
        Host {
            text: format!("{node}@{backend}#{pool}"),
            at: node.len(),
            hash: node.len() + 1 + backend.len(),
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.text[..self.at]
    }

    /// The backend's name on the node.
    pub fn backend(&self) -> &str {
        &self.text[self.at + 1..self.hash]
    }

    /// The pool's name in the backend.
    pub fn pool(&self) -> &str {
        &self.text[self.hash + 1..]
    }

    /// `node@backend`: the `cinder-volume` service that owns the pool.
    pub fn service(&self) -> &str {
        &self.text[..self.hash]
    }

    /// The whole `node@backend#pool`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `node@backend`: the `cinder-volume` service of `backend` on `node` (a service row
/// names no pool, so it is not a [`Host`]).
pub fn service_host(node: &str, backend: &str) -> String {
    format!("{node}@{backend}")
}

/// The node of a service's host: the part before the `@` of `node@backend`, as
/// [`Host::node`] cuts it; a host without `@` (the scheduler's) is all node.
pub fn service_node(service_host: &str) -> &str {
    service_host
        .split_once('@')
        .map_or(service_host, |(node, _)| node)
}

impl FromStr for Host {
    type Err = InvalidHost;

    /// The node ends at the first `@` and the backend at the first `#` after it; the
    /// pool is the rest (it may hold anything, as in Cinder). Node and backend are
    /// non-empty.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidHost(s.to_string());
        let at = s.find('@').ok_or_else(invalid)?;
        let hash = at + 1 + s[at + 1..].find('#').ok_or_else(invalid)?;
        if at == 0 || hash == at + 1 || s[..at].contains('#') {
            return Err(invalid());
        }
        Ok(Host {
            text: s.to_string(),
            at,
            hash,
        })
    }
}

impl TryFrom<String> for Host {
    type Error = InvalidHost;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Host> for String {
    fn from(h: Host) -> String {
        h.text
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// Comparing with the spelled-out string keeps tests and filters readable.
impl PartialEq<str> for Host {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Host {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_cut_at_the_first_at_and_the_first_hash_after_it() -> Result<(), InvalidHost> {
        let h: Host = "n1@lvm-fast#vg#0".parse()?;
        assert_eq!(
            (h.node(), h.backend(), h.pool(), h.service()),
            ("n1", "lvm-fast", "vg#0", "n1@lvm-fast")
        );
        assert_eq!(h.to_string(), "n1@lvm-fast#vg#0");
        assert_eq!(Host::new("n1", "lvm-fast", "vg#0"), h);
        let empty_pool = Host::new("n1", "file", "");
        assert_eq!(empty_pool.as_str().parse::<Host>()?, empty_pool);
        Ok(())
    }

    #[test]
    fn a_service_host_is_cut_as_a_host_is() {
        let h = Host::new("n1", "lvm", "p");
        assert_eq!(service_host(h.node(), h.backend()), h.service());
        assert_eq!(service_node(h.service()), h.node());
        assert_eq!(service_node("controller"), "controller");
    }

    #[test]
    fn a_host_without_every_part_is_refused() {
        for bad in ["", "n1", "n1@file", "@file#p", "n1@#p", "n#1@file#p"] {
            assert_eq!(bad.parse::<Host>(), Err(InvalidHost(bad.into())), "{bad}");
        }
    }

    #[test]
    fn serde_uses_the_string() -> Result<(), serde_json::Error> {
        let h: Host = serde_json::from_str(r#""n1@file#p""#)?;
        assert_eq!(h.pool(), "p");
        assert_eq!(serde_json::to_string(&h)?, r#""n1@file#p""#);
        assert!(serde_json::from_str::<Host>(r#""n1""#).is_err());
        Ok(())
    }
}
