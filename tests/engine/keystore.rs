//! The key store: set → Stored (masked) → resolve → clear → Missing, on the in-memory store and on
//! keyring-core's mock store side by side; the environment value wins; the OS store on a headless
//! machine answers (Unavailable or working) quickly and never panics; no error or `Debug` output
//! ever contains the key. A platform's raw message (zbus's, as seen on Debian with no session bus,
//! no Secret Service, or no default keyring) becomes one short sentence that says what to do, and
//! is logged once, not on every call. With the window built: the settings panel says what really
//! happened (demo mode keeps a key for the session only; no keyring → why, SEGMIND_API_KEY, or a
//! key for this session only). The real Secret Service is exercised by scripts/keyring-check.sh.

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
            assert!(
                e.to_string()
                    .contains("no OS keyring is available on this system"),
                "{e}"
            );
            // One short sentence: no raw zbus text, the advice given once.
            assert!(!msg.contains("zbus"), "{msg}");
            assert_eq!(msg.matches("SEGMIND_API_KEY").count(), 1, "{msg}");
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

/// What zbus said on this project's Debian machine, in each case where no keyring could be used.
const NO_BUS: &str = "zbus error: Failed to connect to address `unix:path=/run/user/0/bus`: No such \
                      file or directory (os error 2)";
const NO_SECRET_SERVICE: &str = "zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name \
                                 org.freedesktop.secrets was not provided by any .service files";
/// gnome-keyring activated on a fresh session bus has no default ("login") keyring to store into.
const NO_DEFAULT_COLLECTION: &str = "SS error: result not returned from SS API";

/// A mock store whose next operation fails with `error`.
fn failing_store(error: keyring_core::Error) -> KeyStore {
    let mock = keyring_core::mock::Store::new().unwrap();
    let entry = keyring_core::Entry::new_in_store(
        &(mock.clone() as Arc<keyring_core::CredentialStore>),
        fluxcn::keystore::SERVICE,
        fluxcn::keystore::ACCOUNT,
    )
    .unwrap();
    let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
    cred.set_error(error);
    KeyStore::with_store(mock)
}

fn platform(msg: &str) -> keyring_core::Error {
    keyring_core::Error::PlatformFailure(msg.to_owned().into())
}

/// The key's state when the keyring fails with `error` (its message, which must be Unavailable).
fn unavailable_message(error: keyring_core::Error) -> String {
    match failing_store(error).state() {
        KeyState::Unavailable(msg) => msg,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn raw_zbus_errors_become_one_short_sentence_that_says_what_to_do() {
    assert_eq!(
        unavailable_message(platform(NO_BUS)),
        "no OS keyring is available on this system (no D-Bus session is running): set \
         SEGMIND_API_KEY before starting fluxcn"
    );
    assert_eq!(
        unavailable_message(platform(NO_SECRET_SERVICE)),
        "no OS keyring is available on this system (no Secret Service, such as GNOME Keyring or \
         KWallet, is running): set SEGMIND_API_KEY before starting fluxcn"
    );
    let locked = unavailable_message(keyring_core::Error::NoStorageAccess(
        NO_DEFAULT_COLLECTION.to_owned().into(),
    ));
    assert_eq!(
        locked,
        "the OS keyring cannot be used now (there is no default keyring, or it is locked): unlock \
         it (log in to the desktop session) and try again, or set SEGMIND_API_KEY before starting \
         fluxcn"
    );
    // An unknown platform message is not shown either.
    let other = unavailable_message(platform("zbus error: I/O error: frobnicated (os error 99)"));
    assert!(other.starts_with("no OS keyring is available"), "{other}");
    for msg in [
        unavailable_message(platform(NO_BUS)),
        unavailable_message(platform(NO_SECRET_SERVICE)),
        locked,
        other,
    ] {
        for raw in ["zbus", "os error", "SS error", "freedesktop", "unix:path"] {
            assert!(!msg.contains(raw), "raw text {raw:?} in {msg}");
        }
        // The advice is given once, not repeated.
        assert_eq!(msg.matches("SEGMIND_API_KEY").count(), 1, "{msg}");
    }
}

#[test]
fn the_reason_words_for_each_platform_message() {
    use fluxcn::keystore::{locked_reason, unavailable_reason};
    assert_eq!(unavailable_reason(NO_BUS), "no D-Bus session is running");
    assert_eq!(
        unavailable_reason("zbus error: Address error: DBUS_SESSION_BUS_ADDRESS is not set"),
        "no D-Bus session is running"
    );
    assert_eq!(
        unavailable_reason(NO_SECRET_SERVICE),
        "no Secret Service, such as GNOME Keyring or KWallet, is running"
    );
    assert_eq!(
        unavailable_reason("no secret service provider or dbus session found"),
        "no Secret Service or D-Bus session was found"
    );
    assert_eq!(
        unavailable_reason("zbus error: Connection refused (os error 111)"),
        "the D-Bus session cannot be reached"
    );
    assert_eq!(
        locked_reason(NO_DEFAULT_COLLECTION),
        "there is no default keyring, or it is locked"
    );
    assert_eq!(
        locked_reason("SS Error: object locked"),
        "the default keyring is locked"
    );
    assert_eq!(
        locked_reason("SS error: prompt dismissed"),
        "the unlock prompt was dismissed"
    );
}

/// Collects what `tracing` writes while `f` runs on this thread.
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn the_raw_detail_is_logged_once_as_a_warning_without_the_key() {
    // A message no other test uses (the "seen" list is process-wide).
    let raw = format!("zbus error: I/O error: logged-once probe while writing {SECRET}");
    let log = logged(|| {
        for _ in 0..3 {
            let e = failing_store(platform(&raw)).set(&key()).unwrap_err();
            assert!(matches!(e, KeyStoreError::Unavailable(_)), "{e:?}");
        }
    });
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("logged-once probe"), "{log}");
    assert!(warnings[0].contains("[redacted key]"), "{log}");
    // The repeats are kept at debug level.
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("DEBUG") && l.contains("logged-once probe"))
            .count(),
        2,
        "{log}"
    );
    assert!(!log.contains(SECRET_TAIL), "{log}");
}

/// The settings panel, driven headless (egui_kittest), says what really happened to a key.
#[cfg(feature = "app")]
mod settings_panel {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use egui::accesskit::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::{NodeT, Queryable};
    use fluxcn::api::{ApiKey, ClientConfig};
    use fluxcn::gallery::Store;
    use fluxcn::jobs::services::Request;
    use fluxcn::jobs::{self, Command, JobsHandle, KeyState, RuntimeConfig, RuntimeDeps, Services};
    use fluxcn::keystore::KeyStore;
    use fluxcn::ui::{FluxApp, LaunchOptions, State};

    use super::{NO_BUS, SECRET, SECRET_TAIL, failing_store, key, platform};

    /// Every label and value on screen, one string per node.
    fn texts(h: &Harness<'_, FluxApp>) -> Vec<String> {
        h.query_all_by(|_| true)
            .map(|n| {
                let n = n.accesskit_node();
                format!(
                    "{} {}",
                    n.label().unwrap_or_default(),
                    n.value().unwrap_or_default()
                )
            })
            .collect()
    }

    fn step_until(
        h: &mut Harness<'_, FluxApp>,
        what: &str,
        done: impl Fn(&Harness<'_, FluxApp>) -> bool,
    ) {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            h.run_steps(1);
            if done(h) {
                return;
            }
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_key(h: &mut Harness<'_, FluxApp>) {
        h.get_by_role_and_label(Role::PasswordInput, "New key")
            .focus();
        h.get_by_role_and_label(Role::PasswordInput, "New key")
            .type_text(SECRET);
        h.run_steps(2);
    }

    #[test]
    fn demo_mode_says_a_saved_key_is_kept_for_the_session_never_stored_in_the_keyring() {
        // As `fluxcn --demo` starts it: the real runtime with the in-memory key store and the
        // launcher's own demo key.
        let rt = crate::common::rt();
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyStore::in_memory();
        let deps = RuntimeDeps {
            store: Store::open(dir.path().join("gallery")).unwrap(),
            keys: keys.clone(),
            journal: None,
            recovered: Vec::new(),
            client_template: ClientConfig::default(),
            ledger: None,
            waiting: None,
        };
        let cfg = RuntimeConfig {
            api_base: "http://127.0.0.1:9/v1".into(),
            key: ApiKey::new("SG_d3m0d3m0d3m0d3m0"),
            ..RuntimeConfig::default()
        };
        let opts = LaunchOptions {
            demo: true,
            autogenerate: false,
            initial: cfg.clone(),
            demo_input: None,
        };
        let handle = rt.handle().clone();
        let mut h = Harness::builder()
            .with_size(egui::vec2(1280.0, 900.0))
            .build_eframe(move |cc| {
                let ctx = cc.egui_ctx.clone();
                let jobs = jobs::start(&handle, deps, cfg, Arc::new(move || ctx.request_repaint()));
                FluxApp::with_state(State::default(), opts, jobs)
            });
        h.run_steps(2);
        h.get_by_label("Settings").click();
        step_until(&mut h, "the demo key line", |h| {
            h.query_by_label_contains("Demo mode: the built-in stand-in needs no key")
                .is_some()
        });
        assert!(h.query_by_label_contains("No key yet").is_none());
        type_key(&mut h);
        h.get_by_role_and_label(Role::Button, "Save").click();
        step_until(&mut h, "the saved key's line", |h| {
            h.query_by_label_contains("kept for this demo session only")
                .is_some()
        });
        h.get_by_label_contains("Key SG_…e7 kept for this demo session only: it is not stored");
        let all = texts(&h);
        assert!(
            !all.iter().any(|t| t.contains("stored in the OS keyring")),
            "{all:?}"
        );
        assert!(!all.iter().any(|t| t.contains(SECRET_TAIL)), "{all:?}");
        // What was said is what happened: the key is in memory, for this session.
        assert_eq!(keys.resolve().unwrap(), Some(key()));
    }

    struct Manual {
        h: Harness<'static, FluxApp>,
        commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
        requests: std::sync::mpsc::Receiver<Request>,
        _events: std::sync::mpsc::Sender<jobs::Event>,
    }

    /// The window outside demo mode, with the test answering the services' requests.
    fn manual() -> Manual {
        let (cmd_tx, commands) = tokio::sync::mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = std::sync::mpsc::channel();
        let (services, requests) = Services::manual();
        let handle = JobsHandle::from_channels(cmd_tx, ev_rx, services);
        let opts = LaunchOptions {
            demo: false,
            autogenerate: false,
            initial: RuntimeConfig::default(),
            demo_input: None,
        };
        let app = FluxApp::with_state(State::default(), opts, handle);
        let mut h = Harness::builder()
            .with_size(egui::vec2(1280.0, 900.0))
            .build_eframe(move |_cc| app);
        h.run_steps(2);
        Manual {
            h,
            commands,
            requests,
            _events: ev_tx,
        }
    }

    impl Manual {
        fn keys_configured(&mut self) -> Vec<Option<String>> {
            let mut out = Vec::new();
            while let Ok(c) = self.commands.try_recv() {
                if let Command::Configure(cfg) = c {
                    out.push(cfg.key.map(|k| k.expose().to_owned()));
                }
            }
            out
        }
        /// Every request so far; the key-state ones answered with `state`.
        fn answer(&mut self, state: &KeyState) -> Vec<Request> {
            let mut rest = Vec::new();
            for r in self.requests.try_iter() {
                match r {
                    Request::KeyState { reply } => assert!(reply.send(state.clone()).is_ok()),
                    Request::SaveKey { key, reply } => {
                        assert!(reply.send(state.clone()).is_ok());
                        rest.push(Request::SaveKey {
                            key,
                            reply: tokio::sync::oneshot::channel().0,
                        });
                    }
                    other => rest.push(other),
                }
            }
            self.h.run_steps(3);
            rest
        }
    }

    #[test]
    fn no_keyring_says_so_once_and_a_session_key_is_used_never_stored() {
        let mut m = manual();
        m.h.get_by_label("Settings").click();
        m.h.run_steps(2);
        // The state a real KeyStore reports for zbus's "no session bus".
        let state = failing_store(platform(NO_BUS)).state();
        m.answer(&state);
        m.h.get_by_label(
            "No OS keyring is available on this system (no D-Bus session is running): set \
             SEGMIND_API_KEY before starting fluxcn.",
        );
        // Said once: every text on screen that names the variable is (a wrapped line of) that one
        // sentence, and the sentence names it once.
        let sentence = "No OS keyring is available on this system (no D-Bus session is running): \
                        set SEGMIND_API_KEY before starting fluxcn.";
        assert_eq!(sentence.matches("SEGMIND_API_KEY").count(), 1);
        let all = texts(&m.h);
        let naming: Vec<&String> = all
            .iter()
            .filter(|t| t.contains("SEGMIND_API_KEY"))
            .collect();
        assert!(!naming.is_empty());
        assert!(
            naming.iter().all(|t| sentence.contains(t.trim())),
            "said more than once: {naming:?}"
        );
        assert!(!all.iter().any(|t| t.contains("zbus")), "{all:?}");
        m.h.get_by_role_and_label(Role::Button, "Use for this session only");

        m.keys_configured();
        type_key(&mut m.h);
        m.h.get_by_role_and_label(Role::Button, "Use for this session only")
            .click();
        m.h.run_steps(3);
        // The key goes with the configuration, and nowhere else: nothing is saved.
        assert_eq!(m.keys_configured(), vec![Some(SECRET.to_owned())]);
        let asked = m.answer(&state);
        assert!(
            !asked.iter().any(|r| matches!(r, Request::SaveKey { .. })),
            "{asked:?}"
        );
        assert!(
            asked
                .iter()
                .any(|r| matches!(r, Request::Credits { cfg, .. }
                if cfg.key.as_ref().map(|k| k.expose()) == Some(SECRET))),
            "{asked:?}"
        );
        m.h.get_by_label_contains("Key SG_…e7 is used for this session only: it is not stored");
        let all = texts(&m.h);
        assert!(!all.iter().any(|t| t.contains("stored in")), "{all:?}");
        assert!(!all.iter().any(|t| t.contains(SECRET_TAIL)), "{all:?}");

        // Clear forgets it: the configuration loses the key, and the keyring is asked to clear.
        m.h.get_by_role_and_label(Role::Button, "Clear").click();
        m.h.run_steps(3);
        assert_eq!(m.keys_configured(), vec![None]);
        let asked = m.answer(&state);
        assert!(
            asked
                .iter()
                .any(|r| matches!(r, Request::SaveKey { key: None, .. })),
            "{asked:?}"
        );
        assert!(
            m.h.query_by_label_contains("used for this session only")
                .is_none()
        );
        m.h.get_by_label_contains("No OS keyring is available");

        // Save over a session key: the session key is dropped (the saved one is to be used), and
        // when the keyring still cannot store it, the window says so rather than "stored".
        type_key(&mut m.h);
        m.h.get_by_role_and_label(Role::Button, "Use for this session only")
            .click();
        m.h.run_steps(3);
        m.answer(&state);
        m.keys_configured();
        type_key(&mut m.h);
        m.h.get_by_role_and_label(Role::Button, "Save").click();
        m.h.run_steps(3);
        assert_eq!(m.keys_configured(), vec![None]);
        let refused = failing_store(platform(NO_BUS)).set(&key()).unwrap_err();
        let asked = m.answer(&KeyState::Unavailable(refused.to_string()));
        assert!(
            asked
                .iter()
                .any(|r| matches!(r, Request::SaveKey { key: Some(k), .. }
                if k.expose() == SECRET)),
            "{asked:?}"
        );
        m.h.get_by_label_contains("No OS keyring is available");
        let all = texts(&m.h);
        assert!(!all.iter().any(|t| t.contains("stored in")), "{all:?}");
    }
}
