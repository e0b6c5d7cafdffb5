//! What every connection shares: the store behind its lock, sessions and their
//! expiry, the request log and counter, and the server's fixed settings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use super::LoggedRequest;
use super::faults::ActiveRule;
use crate::proxy::Proxy;
use crate::store::Store;
use crate::version::GuacamoleVersion;

pub(super) struct Session {
    username: String,
    last_access: Instant,
}

/// State shared by every connection.
pub struct Shared {
    pub store: RwLock<Store>,
    pub(super) sessions: Mutex<HashMap<String, Session>>,
    pub(super) session_timeout: Duration,
    pub(super) latency_us: AtomicU64,
    pub(super) rules: Mutex<Vec<ActiveRule>>,
    pub(super) log: Mutex<Vec<LoggedRequest>>,
    pub(super) log_requests: bool,
    /// TOTP codes already used (`CodeUsageTrackingService`).
    pub totp_used: crate::totp::UsedCodes,
    pub(super) counter: AtomicU64,
    pub(super) prefix: String,
    pub(super) body_limit: usize,
    pub(super) version: GuacamoleVersion,
    pub(super) proxy: Proxy,
    /// The login's data source (see `Config::data_source`).
    pub data_source: String,
    pub(super) path_rules: crate::answers::PathRules,
    /// See `Config::field_order`.
    pub field_order: crate::field_order::FieldOrder,
    /// When the server started (`LoggedRequest::received_ms` counts from it).
    pub(super) started: Instant,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// The Guacamole release the server answers as.
    #[must_use]
    pub fn version(&self) -> GuacamoleVersion {
        self.version
    }

    pub fn read_store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The store for writing; cached permission look-ups are forgotten when the
    /// guard is dropped, so every later request sees the write.
    pub fn write_store(&self) -> StoreWrite<'_> {
        StoreWrite {
            guard: self
                .store
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            only_user: None,
        }
    }

    /// Creates a session for a user and returns its token (64 upper-case hex).
    pub fn new_session(&self, username: &str) -> String {
        let bytes: [u8; 32] = rand::random();
        let token = bytes.iter().fold(String::with_capacity(64), |mut t, b| {
            use std::fmt::Write as _;
            let _ = write!(t, "{b:02X}");
            t
        });
        lock(&self.sessions).insert(
            token.clone(),
            Session {
                username: username.to_owned(),
                last_access: Instant::now(),
            },
        );
        token
    }

    /// The user of a live session, touching it; an idle session has expired.
    pub fn session_user(&self, token: &str) -> Option<String> {
        let mut sessions = lock(&self.sessions);
        let expired = sessions
            .get(token)
            .is_some_and(|s| s.last_access.elapsed() >= self.session_timeout);
        if expired {
            sessions.remove(token);
            return None;
        }
        let s = sessions.get_mut(token)?;
        s.last_access = Instant::now();
        Some(s.username.clone())
    }

    pub fn end_session(&self, token: &str) -> bool {
        lock(&self.sessions).remove(token).is_some()
    }

    /// Sessions that would still answer (idle ones past the timeout excluded).
    pub fn live_sessions(&self) -> usize {
        lock(&self.sessions)
            .values()
            .filter(|s| s.last_access.elapsed() < self.session_timeout)
            .count()
    }

    pub fn expire_all_sessions(&self) {
        lock(&self.sessions).clear();
    }

    pub fn set_latency(&self, latency: Duration) {
        self.latency_us.store(
            u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    #[must_use]
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }
}

/// A write lock on the store (see `Shared::write_store`).
pub struct StoreWrite<'a> {
    guard: std::sync::RwLockWriteGuard<'a, Store>,
    /// `Some(user)`: the write changed only that user's own permissions.
    only_user: Option<String>,
}

impl StoreWrite<'_> {
    /// Says that this write changes nothing but the own permissions of `user`, so
    /// that when it ends only that user's cached actor is forgotten: a sync's
    /// hundreds of permission `PATCH`es then do not each make the next request
    /// merge an administrator's permission on every object again.
    pub fn changes_only_user(&mut self, user: &str) {
        self.only_user = Some(user.to_owned());
    }
}

impl std::ops::Deref for StoreWrite<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.guard
    }
}

impl std::ops::DerefMut for StoreWrite<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.guard
    }
}

impl Drop for StoreWrite<'_> {
    fn drop(&mut self) {
        match &self.only_user {
            Some(user) => self.guard.forget_actor(user),
            None => self.guard.forget_actors(),
        }
    }
}
