//! Validated tokens, so that a token seen again costs no Keystone round trip.
//!
//! Keyed by the SHA-256 of the token, so the tokens themselves are not kept in memory.
//! Only tokens Keystone vouched for go in (an invalid one is asked about each time, as a
//! token can become valid only by being issued, never by being retried). One `RwLock`
//! around a `HashMap`: a hit is a hash, a read lock and an `Arc` clone, and the few
//! thousand live tokens of a cloud fit without an eviction policy beyond the bound below.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::token::Identity;

/// Entries kept at most. Past it, lapsed entries are dropped, and if none had lapsed the
/// whole cache is emptied: every token is then validated once more, which is slower for a
/// moment but never wrong, and no flood of valid tokens can make the map grow unbounded.
const MAX_ENTRIES: usize = 20_000;

/// What the cache knows about a token.
#[derive(Debug)]
pub enum Lookup {
    /// Validated, still within the cache time and before its expiry.
    Hit(Arc<Identity>),
    /// Validated once, but past its `expires_at` now: refused without asking Keystone.
    Expired,
    /// Not cached (never seen, invalid, or its cache time ran out).
    Miss,
}

struct Entry {
    identity: Arc<Identity>,
    until: DateTime<Utc>,
}

/// The cache; see the module's comment.
pub struct TokenCache {
    entries: RwLock<HashMap<[u8; 32], Entry>>,
    ttl: chrono::Duration,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The key a token is cached under.
pub fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenCache {
    /// A cache keeping tokens `ttl_seconds` at most (0: nothing is cached).
    pub fn new(ttl_seconds: u64) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            ttl: chrono::Duration::seconds(i64::try_from(ttl_seconds).unwrap_or(i64::MAX / 1000)),
        }
    }

    /// What is known of the token under `key` at `now`.
    pub fn get(&self, key: &[u8; 32], now: DateTime<Utc>) -> Lookup {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some(e) if e.identity.expires_at <= now => Lookup::Expired,
            Some(e) if e.until > now => Lookup::Hit(e.identity.clone()),
            _ => Lookup::Miss,
        }
    }

    /// Keeps a validated token until min(now + ttl, its expiry).
    pub fn put(&self, key: [u8; 32], identity: Arc<Identity>, now: DateTime<Utc>) {
        if self.ttl <= chrono::Duration::zero() {
            return;
        }
        let until = (now + self.ttl).min(identity.expires_at);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.retain(|_, e| e.until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, Entry { identity, until });
    }

    /// Forgets a token (one found expired).
    pub fn remove(&self, key: &[u8; 32]) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, Utc};

    use super::{Lookup, TokenCache, key};
    use crate::keystone::token::Identity;

    fn identity(expires_in: Duration) -> Arc<Identity> {
        Arc::new(Identity {
            user_id: "u".into(),
            user_name: "alice".into(),
            project_id: Some("0a0a".into()),
            project_name: Some("demo".into()),
            system_scope: false,
            roles: vec!["member".into()],
            expires_at: Utc::now() + expires_in,
        })
    }

    #[test]
    fn a_token_is_kept_for_the_cache_time_then_asked_about_again() {
        let cache = TokenCache::new(300);
        let now = Utc::now();
        cache.put(key("t"), identity(Duration::hours(1)), now);
        assert!(matches!(cache.get(&key("t"), now), Lookup::Hit(_)));
        assert!(matches!(cache.get(&key("other"), now), Lookup::Miss));
        let later = now + Duration::seconds(301);
        assert!(matches!(cache.get(&key("t"), later), Lookup::Miss));
    }

    #[test]
    fn a_cached_token_past_its_expiry_is_refused() {
        let cache = TokenCache::new(300);
        let now = Utc::now();
        cache.put(key("t"), identity(Duration::seconds(10)), now);
        assert!(matches!(cache.get(&key("t"), now), Lookup::Hit(_)));
        let later = now + Duration::seconds(11);
        assert!(matches!(cache.get(&key("t"), later), Lookup::Expired));
    }

    #[test]
    fn a_cache_time_of_zero_keeps_nothing() {
        let cache = TokenCache::new(0);
        let now = Utc::now();
        cache.put(key("t"), identity(Duration::hours(1)), now);
        assert!(matches!(cache.get(&key("t"), now), Lookup::Miss));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = TokenCache::new(300);
        let now = Utc::now();
        for i in 0..=super::MAX_ENTRIES {
            cache.put(key(&i.to_string()), identity(Duration::hours(1)), now);
        }
        let held = cache.entries.read().map(|e| e.len()).unwrap_or(0);
        assert!(held <= super::MAX_ENTRIES, "{held} entries");
        let last = super::MAX_ENTRIES.to_string();
        assert!(matches!(cache.get(&key(&last), now), Lookup::Hit(_)));
    }
}
