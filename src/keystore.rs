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
//!
//! A platform's error (a zbus message such as "zbus error: Failed to connect to address …") is
//! never shown as it is: [`KeyStoreError`] carries a few plain words ("no D-Bus session is
//! running"), and the raw text goes to one `tracing` warning (once per distinct message, the key
//! scrubbed out), for whoever reads the log.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry};

use crate::api::ApiKey;
use crate::types::KeyState;

pub const SERVICE: &str = "fluxcn";
pub const ACCOUNT: &str = "segmind-api-key";
pub const ENV_VAR: &str = "SEGMIND_API_KEY";

/// The OS keyring the key is stored in on this platform, in words (Settings and `fluxcn paths`).
pub const BACKEND: &str = if cfg!(target_os = "linux") {
    "the Secret Service (GNOME Keyring, KWallet or KeePassXC), through D-Bus"
} else if cfg!(target_os = "macos") {
    "the macOS login Keychain"
} else if cfg!(target_os = "windows") {
    "the Windows Credential Manager (generic credential)"
} else {
    "none on this platform: use SEGMIND_API_KEY"
};

/// How long one call to the OS keyring may take before it is reported as unavailable.
const SYSTEM_TIMEOUT: Duration = Duration::from_secs(8);

/// Why the key could not be read, stored or removed, in plain words (the platform's own message is
/// in the log, never here). Never contains the key. Each message ends with what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// No keyring to talk to (no D-Bus session, no Secret Service, a platform without one). The
    /// value is a short reason, e.g. "no D-Bus session is running".
    #[error(
        "no OS keyring is available on this system ({0}): set SEGMIND_API_KEY before starting \
         fluxcn"
    )]
    Unavailable(String),
    /// The keyring is there but refused (locked, no default collection, prompt dismissed).
    #[error(
        "the OS keyring cannot be used now ({0}): unlock it (log in to the desktop session) and \
         try again, or set SEGMIND_API_KEY before starting fluxcn"
    )]
    Locked(String),
    #[error(
        "the key stored in the OS keyring cannot be used ({0}): run `fluxcn key clear`, then \
         set the key again"
    )]
    Corrupt(String),
    #[error(
        "the OS keyring failed to {action} the key ({detail}): try again, or set SEGMIND_API_KEY \
         before starting fluxcn"
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
            _ => self.with_entry(move |e| e.set_password(&secret), "store", Some(key.clone())),
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
                None,
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
                None,
            ),
        }
    }

    /// Runs `op` on this store's entry: inline for a given store, on a helper thread with a
    /// time limit for the OS store. `key`, when given, is scrubbed from anything logged.
    fn with_entry<T, F>(
        &self,
        op: F,
        action: &'static str,
        key: Option<ApiKey>,
    ) -> Result<T, KeyStoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Entry) -> keyring_core::Result<T> + Send + 'static,
    {
        match &self.backend {
            Backend::Store(store) => run_op(store, op, action, key.as_ref()),
            Backend::System(cell) => {
                let cell = cell.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                let spawned = std::thread::Builder::new()
                    .name("fluxcn-keyring".into())
                    .spawn(move || {
                        let r = match cell.get_or_init(connect_system) {
                            Ok(store) => run_op(store, op, action, key.as_ref()),
                            Err(raw) => Err(unavailable(action, raw, None)),
                        };
                        let _ = tx.send(r);
                    });
                if let Err(e) = spawned {
                    return Err(unavailable(
                        action,
                        &format!("no thread could be started to reach the keyring: {e}"),
                        None,
                    ));
                }
                match rx.recv_timeout(SYSTEM_TIMEOUT) {
                    Ok(r) => r,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        Err(KeyStoreError::Unavailable(format!(
                            "the keyring did not answer within {} s",
                            SYSTEM_TIMEOUT.as_secs()
                        )))
                    }
                    // The helper thread ended without an answer: the store panicked.
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        Err(KeyStoreError::Unavailable(
                            "the keyring's helper failed unexpectedly".into(),
                        ))
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
    key: Option<&ApiKey>,
) -> Result<T, KeyStoreError>
where
    F: FnOnce(&Entry) -> keyring_core::Result<T>,
{
    let entry =
        Entry::new_in_store(store, SERVICE, ACCOUNT).map_err(|e| map_error(e, action, key))?;
    op(&entry).map_err(|e| map_error(e, action, key))
}

/// Connects to the platform's store. `Err` is the platform's own message (for the log).
fn connect_system() -> Result<Arc<CredentialStore>, String> {
    #[cfg(target_os = "linux")]
    {
        zbus_secret_service_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| platform_text(&e))
    }
    #[cfg(target_os = "macos")]
    {
        apple_native_keyring_store::keychain::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| platform_text(&e))
    }
    #[cfg(target_os = "windows")]
    {
        windows_native_keyring_store::Store::new()
            .map(|s| s as Arc<CredentialStore>)
            .map_err(|e| platform_text(&e))
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
    {
        Err("no keyring is supported on this platform".to_owned())
    }
}

/// A keyring error in plain words. A platform's own message is logged, and replaced by a few
/// words on what it means; the variants that carry secret bytes or entries (`BadEncoding`,
/// `BadDataFormat`, `Ambiguous`) are never printed.
fn map_error(e: keyring_core::Error, action: &'static str, key: Option<&ApiKey>) -> KeyStoreError {
    use keyring_core::Error as E;
    match e {
        E::PlatformFailure(p) => unavailable(action, &p.to_string(), key),
        E::NoStorageAccess(p) => {
            let raw = p.to_string();
            log_platform(action, &raw, key);
            KeyStoreError::Locked(locked_reason(&raw).to_owned())
        }
        E::NoDefaultStore => KeyStoreError::Unavailable("no keyring store is set up".into()),
        E::NotSupportedByStore(s) => unavailable(action, &s, key),
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
        E::BadStoreFormat(s) => {
            log_platform(action, &s, key);
            KeyStoreError::Failed {
                action,
                detail: "the keyring's data is malformed".into(),
            }
        }
        _ => KeyStoreError::Failed {
            action,
            detail: "an unknown keyring error".into(),
        },
    }
}

/// [`KeyStoreError::Unavailable`] for a platform's message: logged, and said in a few words.
fn unavailable(action: &'static str, raw: &str, key: Option<&ApiKey>) -> KeyStoreError {
    log_platform(action, raw, key);
    KeyStoreError::Unavailable(unavailable_reason(raw).to_owned())
}

/// Why no keyring could be reached, in a few words, from the platform's message (zbus's on Linux).
pub fn unavailable_reason(raw: &str) -> &'static str {
    let m = raw.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    if has(&[
        "serviceunknown",
        "not provided by any .service",
        "org.freedesktop.secrets",
        "name has no owner",
    ]) {
        "no Secret Service, such as GNOME Keyring or KWallet, is running"
    } else if has(&["no secret service provider or dbus session"]) {
        "no Secret Service or D-Bus session was found"
    } else if has(&[
        "dbus_session_bus_address",
        "failed to connect to address",
        "session bus",
        "address not found",
    ]) {
        "no D-Bus session is running"
    } else if has(&["timed out", "timeout"]) {
        "the keyring did not answer in time"
    } else if has(&[
        "connection refused",
        "no such file",
        "broken pipe",
        "connection reset",
    ]) {
        "the D-Bus session cannot be reached"
    } else if has(&["access denied", "accessdenied", "permission denied"]) {
        "access to the keyring was denied"
    } else if has(&["no keyring is supported"]) {
        "fluxcn supports no keyring on this platform"
    } else {
        "the keyring reported an error, written to the log"
    }
}

/// Why a reachable keyring refused, in a few words, from the platform's message.
pub fn locked_reason(raw: &str) -> &'static str {
    let m = raw.to_ascii_lowercase();
    if m.contains("prompt dismissed") {
        "the unlock prompt was dismissed"
    } else if m.contains("prompt") {
        "the unlock prompt was closed"
    } else if m.contains("result not returned") {
        "there is no default keyring, or it is locked"
    } else if m.contains("locked") {
        "the default keyring is locked"
    } else {
        "access was refused"
    }
}

/// A platform error's own message, for the log (never a variant that may carry secret bytes).
fn platform_text(e: &keyring_core::Error) -> String {
    match e {
        keyring_core::Error::PlatformFailure(p) | keyring_core::Error::NoStorageAccess(p) => {
            p.to_string()
        }
        keyring_core::Error::NotSupportedByStore(s) => s.clone(),
        _ => "the platform's keyring store could not be opened".to_owned(),
    }
}

/// Logs a platform's own message: a warning the first time a text is seen, then a debug line (a
/// window asks for the key's state again and again). The key, when known, is scrubbed out.
fn log_platform(action: &str, raw: &str, key: Option<&ApiKey>) {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let text = match key {
        Some(k) => k.redact(raw),
        None => raw.to_owned(),
    };
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(&text) {
        tracing::debug!(action, detail = %text, "the OS keyring could not be used (again)");
        return;
    }
    if seen.len() >= 32 {
        seen.remove(0);
    }
    seen.push(text.clone());
    drop(seen);
    tracing::warn!(action, detail = %text, "the OS keyring could not be used");
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
