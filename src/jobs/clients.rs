//! The HTTP client for the current base URL and key, built on first use and shared by the job
//! runtime and the services (credits), so that both reuse one connection pool.

use std::sync::{Arc, Mutex};

use super::types::RuntimeConfig;
use crate::api::{ApiError, ApiKey, Client, ClientConfig};
use crate::keystore::KeyStore;

/// Builds (and caches) the client for a configuration.
pub struct Clients {
    keys: KeyStore,
    template: ClientConfig,
    slot: Mutex<Option<(String, ApiKey, Client)>>,
}

impl Clients {
    pub fn new(keys: KeyStore, template: ClientConfig) -> Arc<Clients> {
        Arc::new(Clients {
            keys,
            template,
            slot: Mutex::new(None),
        })
    }

    /// The key: the one in the settings, else the key store (env or keyring).
    pub async fn key(&self, cfg: &RuntimeConfig) -> Option<ApiKey> {
        if let Some(k) = &cfg.key {
            return Some(k.clone());
        }
        let keys = self.keys.clone();
        tokio::task::spawn_blocking(move || keys.resolve().ok().flatten())
            .await
            .ok()
            .flatten()
    }

    /// The client for `cfg`'s base URL and key (the cached one when neither changed).
    pub async fn client(&self, cfg: &RuntimeConfig) -> Result<Client, ApiError> {
        let key = self.key(cfg).await.ok_or(ApiError::MissingKey)?;
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((base, k, c)) = slot.as_ref()
            && *base == cfg.api_base
            && *k == key
        {
            return Ok(c.clone());
        }
        let client = Client::new(
            ClientConfig {
                api_base: cfg.api_base.clone(),
                ..self.template.clone()
            },
            key.clone(),
        )?;
        *slot = Some((cfg.api_base.clone(), key, client.clone()));
        Ok(client)
    }

    /// Forgets the cached client (the stored key changed).
    pub fn forget(&self) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}
