//! The key store: set → Stored (masked) → resolve → clear → Missing, on the in-memory store and on
//! keyring-core's mock store side by side; the environment value wins; the OS store on a headless
//! machine answers (Unavailable or working) quickly and never panics; no error or `Debug` output
//! ever contains the key.
// Test code: a failed unwrap is a failed test; a test reads top to bottom as one story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fluxcn::api::ApiKey;
use fluxcn::jobs::KeyState;
use fluxcn::keystore::{KeyStore, KeyStoreError};

/// A distinctive key: its hex tail must never show up in any text we produce.
const SECRET: &str = "SG_7e57c0ffee5ec7e7";
const SECRET_TAIL: &str = "7e57c0ffee5ec7e7";

fn key() -> ApiKey {
    ApiKey::new(SECRET).unwrap()
}

fn mock_store() -> KeyStore {
    KeyStore::with_store(keyring_core::mock::Store::new().unwrap())
}

fn round_trip(store: KeyStore) {
    assert_eq!(store.state(), KeyState::Missing);
    assert_eq!(store.resolve().unwrap(), None);

    store.set(&key()).unwrap();
    assert_eq!(
        store.state(),
        KeyState::Stored {
            masked: "SG_…e7".into()
        }
    );
    // A clone shares the same store.
    let clone = store.clone();
    assert_eq!(clone.resolve().unwrap(), Some(key()));

    // Setting again replaces the value.
    let other = ApiKey::new("SG_0000000000000001").unwrap();
    store.set(&other).unwrap();
    assert_eq!(store.resolve().unwrap(), Some(other));

    store.clear().unwrap();
    assert_eq!(store.state(), KeyState::Missing);
    assert_eq!(clone.resolve().unwrap(), None);
    // Clearing twice is fine.
    store.clear().unwrap();

    let dbg = format!("{store:?}");
    assert!(!dbg.contains(SECRET_TAIL), "{dbg}");
}

#[test]
fn in_memory_round_trip() {
    round_trip(KeyStore::in_memory());
}

#[test]
fn mock_store_round_trip() {
    round_trip(mock_store());
}

#[test]
fn stores_are_independent() {
    let a = mock_store();
    let b = mock_store();
    let c = KeyStore::in_memory();
    a.set(&key()).unwrap();
    assert!(matches!(a.state(), KeyState::Stored { .. }));
    assert_eq!(b.state(), KeyState::Missing);
    assert_eq!(c.state(), KeyState::Missing);
}

#[test]
fn env_overrides_the_keyring() {
    let store = KeyStore::in_memory().with_env(Some(format!("  {SECRET}\n")));
    assert_eq!(
        store.state(),
        KeyState::FromEnv {
            masked: "SG_…e7".into()
        }
    );
    let stored = ApiKey::new("SG_aaaaaaaaaaaaaaaa").unwrap();
    store.set(&stored).unwrap();
    // Still the environment's, even with a stored key.
    assert_eq!(store.resolve().unwrap(), Some(key()));
    assert!(matches!(store.state(), KeyState::FromEnv { .. }));

    // An empty or blank environment value does not count.
    let blank = store.clone().with_env(Some("   ".into()));
    assert_eq!(blank.resolve().unwrap(), Some(stored));
    let dbg = format!("{store:?}");
    assert!(!dbg.contains(SECRET_TAIL), "{dbg}");
}

#[test]
fn keyring_failures_are_plain_words_without_the_key() {
    // Make the mock fail the next operation with a platform error that (wrongly) echoes the key:
    // the message we show must still not contain it.
    let mock = keyring_core::mock::Store::new().unwrap();
    let store = KeyStore::with_store(mock.clone());
    let entry = keyring_core::Entry::new_in_store(
        &(mock.clone() as Arc<keyring_core::CredentialStore>),
        fluxcn::keystore::SERVICE,
        fluxcn::keystore::ACCOUNT,
    )
    .unwrap();
    let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
    cred.set_error(keyring_core::Error::PlatformFailure(
        format!("backend exploded while writing {SECRET}").into(),
    ));
    let e = store.set(&key()).unwrap_err();
    assert!(matches!(e, KeyStoreError::Unavailable(_)), "{e:?}");
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(SECRET_TAIL), "{text}");
    }
    assert!(e.to_string().contains("SEGMIND_API_KEY"), "{e}");

    // Secret bytes carried by an error variant are never printed.
    store.set(&key()).unwrap();
    cred.set_error(keyring_core::Error::BadEncoding(SECRET.as_bytes().to_vec()));
    let e = store.resolve().unwrap_err();
    assert!(matches!(e, KeyStoreError::Corrupt(_)), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(SECRET_TAIL));

    // A locked keyring says so, and the state reports it without the key.
    cred.set_error(keyring_core::Error::NoStorageAccess(
        "collection is locked".into(),
    ));
    match store.state() {
        KeyState::Unavailable(msg) => {
            assert!(msg.contains("locked"), "{msg}");
            assert!(!msg.contains(SECRET_TAIL));
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // The error was one-shot: the value is still there.
    assert_eq!(store.resolve().unwrap(), Some(key()));
}

#[test]
fn system_store_answers_quickly_and_never_panics() {
    // On a headless machine (no D-Bus session, no secret service) every call reports Unavailable;
    // on a desktop it may work. Either way: an answer, within the helper's time limit.
    let store = KeyStore::system().with_env(None);
    let t = Instant::now();
    let state = store.state();
    eprintln!("system keyring: {state:?} after {:?}", t.elapsed());
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    match &state {
        KeyState::Unavailable(msg) => {
            assert!(msg.contains("keyring"), "{msg}");
            assert!(msg.contains("SEGMIND_API_KEY"), "{msg}");
            // Unavailable + no env: resolve says why rather than "no key".
            let e = store.resolve().unwrap_err();
            assert!(e.to_string().contains("not available"), "{e}");
            let e = store.set(&key()).unwrap_err();
            assert!(!format!("{e} {e:?}").contains(SECRET_TAIL));
            assert!(store.clear().is_err());
        }
        KeyState::Missing | KeyState::Stored { .. } => {
            // A working keyring: only read, never touch the user's real entry.
        }
        KeyState::FromEnv { .. } => panic!("no env value was given"),
    }
    // The env value still works with the system store, whatever the keyring does.
    let with_env = KeyStore::system().with_env(Some(SECRET.into()));
    assert_eq!(with_env.resolve().unwrap(), Some(key()));
    assert!(!format!("{with_env:?}").contains(SECRET_TAIL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_store_is_safe_inside_a_tokio_runtime() {
    // The Linux store blocks on its own runtime; called from a tokio worker this would panic
    // unless the store keeps the call on its own thread.
    let store = KeyStore::system().with_env(None);
    let state = store.state();
    assert!(!matches!(state, KeyState::FromEnv { .. }));
}
