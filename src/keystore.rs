//! The API key in the OS keyring, `SEGMIND_API_KEY` overriding it. (Stub with the agreed API; the
//! full implementation lands from the `input` branch.)

use crate::api::ApiKey;
use crate::jobs::KeyState;

pub const SERVICE: &str = "fluxcn";
pub const ACCOUNT: &str = "segmind-api-key";
pub const ENV_VAR: &str = "SEGMIND_API_KEY";

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("the system keyring is not available ({0}): set SEGMIND_API_KEY instead")]
    Unavailable(String),
}

#[derive(Clone, Default)]
pub struct KeyStore {
    env: Option<String>,
}

impl KeyStore {
    pub fn system() -> KeyStore {
        KeyStore {
            env: std::env::var(ENV_VAR).ok(),
        }
    }
    pub fn in_memory() -> KeyStore {
        KeyStore { env: None }
    }
    pub fn with_env(mut self, value: Option<String>) -> KeyStore {
        self.env = value;
        self
    }
    pub fn state(&self) -> KeyState {
        match self.env.as_deref().and_then(ApiKey::new) {
            Some(k) => KeyState::FromEnv { masked: k.masked() },
            None => KeyState::Missing,
        }
    }
    pub fn resolve(&self) -> Result<Option<ApiKey>, KeyStoreError> {
        Ok(self.env.as_deref().and_then(ApiKey::new))
    }
    pub fn set(&self, _key: &ApiKey) -> Result<(), KeyStoreError> {
        Err(KeyStoreError::Unavailable("not implemented yet".into()))
    }
    pub fn clear(&self) -> Result<(), KeyStoreError> {
        Ok(())
    }
}
