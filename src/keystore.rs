//! The API key in the OS keyring, `SEGMIND_API_KEY` overriding it.
//!
//! A [`KeyStore`] holds its own backend (never the process-global default store), so tests can run
//! several side by side: the OS store ([`KeyStore::system`]), a plain in-memory one
//! ([`KeyStore::in_memory`]), or any `keyring-core` store, e.g. `keyring_core::mock::Store`
//! ([`KeyStore::with_store`]).
//!
//! The OS store is connected lazily, on first use, and every call to it runs on a helper thread
//! with a time limit: with no secret service (a headless machine, CI) calls fail at once with
//! "keyring unavailable", and a keyring that hangs cannot hang the caller for long. (The Linux
//! store blocks on its own tokio runtime, which would panic if run on a tokio worker thread; the
//! helper thread avoids that too.)
//!
//! [`KeyStore::resolve`] with no environment value and an unavailable keyring returns
//! `Err(Unavailable)` rather than `Ok(None)`: the caller can then say *why* there is no key.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use crate::api::ApiKey;
use crate::types::KeyState;

pub const SERVICE: &str = "fluxcn";
pub const ACCOUNT: &str = "segmind-api-key";
pub const ENV_VAR: &str = "SEGMIND_API_KEY";

/// How long one call to the OS keyring may take before it is reported as unavailable.
const SYSTEM_TIMEOUT: Duration = Duration::from_secs(8);

/// Why the key could not be read, stored or removed. Never contains the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("the system keyring is not available ({0}): set SEGMIND_API_KEY instead")]
    Unavailable(String),
    #[error(
        "the system keyring is locked or refused access ({0}): unlock it (log in to the desktop \
         session) and try again, or set SEGMIND_API_KEY"
    )]
    Locked(String),
    #[error(
        "the key stored in the system keyring cannot be used ({0}): run `fluxcn key clear`, then \
         set the key again"
    )]
    Corrupt(String),
    #[error(
        "the system keyring failed to {action} the key ({detail}): try again, or set SEGMIND_API_KEY"
    )]
    Failed {
        action: &'static str,
        detail: String,
    },
}

/// Where keys are kept.
#[derive(Clone)]
enum Backend {
    /// The OS store, connected on first use; a failed connection is remembered.
    System(Arc<OnceLock<Result<Arc<CredentialStore>, String>>>),
    /// A `keyring-core` store given by the caller (e.g. the mock store in tests).
    Store(Arc<CredentialStore>),
    /// A value in memory (tests, demo mode); it never reaches a log.
    Memory(Arc<Mutex<Option<String>>>),
}

/// The API key's home: an environment value that wins, then a keyring.
#[derive(Clone)]
pub struct KeyStore {
    backend: Backend,
    env: Option<String>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::System(_) => "system",
            Backend::Store(_) => "store",
            Backend::Memory(_) => "memory",
        };
        f.debug_struct("KeyStore")
            .field("backend", &backend)
            .field("env", &self.env.as_ref().map(|_| "[set]"))
            .finish()
    }
}

impl KeyStore {
    /// The OS store, with `SEGMIND_API_KEY` read from the environment. Never fails: if the store
    /// cannot be reached, every keyring call reports [`KeyStoreError::Unavailable`].
    pub fn system() -> KeyStore {
        KeyStore {
            backend: Backend::System(Arc::new(OnceLock::new())),
            env: std::env::var(ENV_VAR).ok(),
        }
    }

    /// An in-memory store whose value persists across calls and clones (tests, demo mode).
    /// No environment value.
    pub fn in_memory() -> KeyStore {
        KeyStore {
            backend: Backend::Memory(Arc::new(Mutex::new(None))),
            env: None,
        }
    }

    /// Any `keyring-core` store (e.g. `keyring_core::mock::Store::new()`); no environment value.
    pub fn with_store(store: Arc<CredentialStore>) -> KeyStore {
        KeyStore {
            backend: Backend::Store(store),
            env: None,
        }
    }

    /// Replaces the environment value (tests inject one; [`KeyStore::system`] reads the real one).
    pub fn with_env(mut self, value: Option<String>) -> KeyStore {
        self.env = value;
        self
    }

    /// Where the key comes from, for the settings panel (never the key itself).
    pub fn state(&self) -> KeyState {
        if let Some(k) = self.env_key() {
            return KeyState::FromEnv { masked: k.masked() };
        }
        match self.stored() {
            Ok(Some(k)) => KeyState::Stored { masked: k.masked() },
            Ok(None) => KeyState::Missing,
            Err(e) => KeyState::Unavailable(e.to_string()),
        }
    }

    /// The key to use: the environment's, else the stored one. `Ok(None)`: none anywhere.
    /// With no environment value, a keyring that cannot be read is an error (it says why).
    pub fn resolve(&self) -> Result<Option<ApiKey>, KeyStoreError> {
        match self.env_key() {
            Some(k) => Ok(Some(k)),
            None => self.stored(),
        }
    }

    /// Stores `key` in the keyring (the environment value, if any, still overrides it).
    pub fn set(&self, key: &ApiKey) -> Result<(), KeyStoreError> {
        let secret = key.expose().to_owned();
        let r = match &self.backend {
            Backend::Memory(m) => {
                *lock(m) = Some(secret);
                Ok(())
            }
            _ => self.with_entry(move |e| e.set_password(&secret), "store"),
        };
        // A platform message should never echo the secret; scrub it anyway.
        r.map_err(|e| scrub(e, key))
    }

    /// Removes the stored key; succeeds when there was none.
    pub fn clear(&self) -> Result<(), KeyStoreError> {
        match &self.backend {
            Backend::Memory(m) => {
                *lock(m) = None;
                Ok(())
            }
            _ => self.with_entry(
                |e| match e.delete_credential() {
                    Err(keyring_core::Error::NoEntry) => Ok(()),
                    other => other,
                },
                "remove",
            ),
        }
    }

    fn env_key(&self) -> Option<ApiKey> {
        self.env.as_deref().and_then(ApiKey::new)
    }

    /// The key in the keyring, if any.
    fn stored(&self) -> Result<Option<ApiKey>, KeyStoreError> {
        match &self.backend {
            Backend::Memory(m) => Ok(lock(m).as_deref().and_then(ApiKey::new)),
            _ => self.with_entry(
                |e| match e.get_password() {
                    Ok(s) => Ok(ApiKey::new(s)),
                    Err(keyring_core::Error::NoEntry) => Ok(None),
                    Err(other) => Err(other),
                },
                "read",
            ),
        }
    }

    /// Runs `op` on this store's entry: inline for a given store, on a helper thread with a
    /// time limit for the OS store.
    fn with_entry<T, F>(&self, op: F, action: &'static str) -> Result<T, KeyStoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Entry) -> keyring_core::Result<T> + Send + 'static,
    {
        match &self.backend {
            Backend::Store(store) => run_op(store, op, action),
            Backend::System(cell) => {
                let cell = cell.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                let spawned = std::thread::Builder::new()
                    .name("fluxcn-keyring".into())
                    .spawn(move || {
                        let r = match cell.get_or_init(connect_system) {
                            Ok(store) => run_op(store, op, action),
                            Err(e) => Err(KeyStoreError::Unavailable(e.clone())),
                        };
                        let _ = tx.send(r);
                    });
                if let Err(e) = spawned {
                    return Err(KeyStoreError::Unavailable(format!(
                        "no thread could be started to reach it: {e}"
                    )));
                }
                match rx.recv_timeout(SYSTEM_TIMEOUT) {
                    Ok(r) => r,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        Err(KeyStoreError::Unavailable(format!(
                            "it did not answer within {} s",
                            SYSTEM_TIMEOUT.as_secs()
                        )))
                    }
                    // The helper thread ended without an answer: the store panicked.
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        Err(KeyStoreError::Unavailable("it failed unexpectedly".into()))
                    }
                }
            }
            Backend::Memory(_) => Err(KeyStoreError::Unavailable(
                "internal: the in-memory store has no entry".into(),
            )),
        }
    }
}

/// Builds the entry and runs `op`, mapping keyring errors to plain words.
fn run_op<T, F>(
    store: &Arc<CredentialStore>,
    op: F,
    action: &'static str,
) -> Result<T, KeyStoreError>
where
    F: FnOnce(&Entry) -> keyring_core::Result<T>,
{
    let entry = Entry::new_in_store(store, SERVICE, ACCOUNT).map_err(|e| map_error(e, action))?;
    op(&entry).map_err(|e| map_error(e, action))
}

/// Connects to the platform's store.
fn connect_system() -> Result<Arc<CredentialStore>, String> {
    #[cfg(target_os = "linux")]
    {
        zbus_secret_service_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| describe_platform(&e))
    }
    #[cfg(target_os = "macos")]
    {
        apple_native_keyring_store::keychain::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| describe_platform(&e))
    }
    #[cfg(target_os = "windows")]
    {
        windows_native_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| describe_platform(&e))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    {
        Err("no keyring is supported on this platform".to_owned())
    }
}

/// A keyring error in plain words. Only the platform's own message is shown: the variants that
/// carry secret bytes or entries (`BadEncoding`, `BadDataFormat`, `Ambiguous`) are never printed.
fn map_error(e: keyring_core::Error, action: &'static str) -> KeyStoreError {
    use keyring_core::Error as E;
    match e {
        E::PlatformFailure(p) => KeyStoreError::Unavailable(one_line(&p.to_string())),
        E::NoStorageAccess(p) => KeyStoreError::Locked(one_line(&p.to_string())),
        E::NoDefaultStore => KeyStoreError::Unavailable("no keyring store is set up".into()),
        E::NotSupportedByStore(s) => KeyStoreError::Unavailable(one_line(&s)),
        E::BadEncoding(_) => KeyStoreError::Corrupt("it is not valid text".into()),
        E::BadDataFormat(..) => KeyStoreError::Corrupt("its data is malformed".into()),
        E::Ambiguous(items) => {
            KeyStoreError::Corrupt(format!("{} entries match {SERVICE}/{ACCOUNT}", items.len()))
        }
        E::NoEntry => KeyStoreError::Failed {
            action,
            detail: "no entry was found".into(),
        },
        E::TooLong(name, limit) => KeyStoreError::Failed {
            action,
            detail: format!("{name} is longer than the keyring's limit of {limit}"),
        },
        E::Invalid(name, reason) => KeyStoreError::Failed {
            action,
            detail: format!("{name} is invalid: {}", one_line(&reason)),
        },
        E::BadStoreFormat(s) => KeyStoreError::Failed {
            action,
            detail: format!("the keyring's data is malformed: {}", one_line(&s)),
        },
        _ => KeyStoreError::Failed {
            action,
            detail: "an unknown keyring error".into(),
        },
    }
}

fn describe_platform(e: &keyring_core::Error) -> String {
    match e {
        keyring_core::Error::PlatformFailure(p) | keyring_core::Error::NoStorageAccess(p) => {
            one_line(&p.to_string())
        }
        _ => "it could not be opened".to_owned(),
    }
}

/// Removes any copy of the key from an error's text.
fn scrub(e: KeyStoreError, key: &ApiKey) -> KeyStoreError {
    match e {
        KeyStoreError::Unavailable(s) => KeyStoreError::Unavailable(key.redact(&s)),
        KeyStoreError::Locked(s) => KeyStoreError::Locked(key.redact(&s)),
        KeyStoreError::Corrupt(s) => KeyStoreError::Corrupt(key.redact(&s)),
        KeyStoreError::Failed { action, detail } => KeyStoreError::Failed {
            action,
            detail: key.redact(&detail),
        },
    }
}

fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// Locks the in-memory value; a poisoned lock still holds a usable value.
fn lock(m: &Mutex<Option<String>>) -> std::sync::MutexGuard<'_, Option<String>> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
