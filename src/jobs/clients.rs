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
    slot: Mutex<Option<(Bases, ApiKey, Client)>>,
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
        let bases = Bases::of(cfg);
        if let Some((base, k, c)) = slot.as_ref()
            && *base == bases
            && *k == key
        {
            return Ok(c.clone());
        }
        let client = Client::new(
            ClientConfig {
                api_base: cfg.api_base.clone(),
                history_base: cfg
                    .history_base
                    .clone()
                    .or(self.template.history_base.clone()),
                storage_base: cfg
                    .storage_base
                    .clone()
                    .or(self.template.storage_base.clone()),
                ..self.template.clone()
            },
            key.clone(),
        )?;
        *slot = Some((bases, key, client.clone()));
        Ok(client)
    }

    /// Forgets the cached client (the stored key changed).
    pub fn forget(&self) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The three bases a client is built for.
type Bases = (String, Option<String>, Option<String>);

trait BasesOf {
    fn of(cfg: &RuntimeConfig) -> Self;
}

impl BasesOf for Bases {
    fn of(cfg: &RuntimeConfig) -> Bases {
        (
            cfg.api_base.clone(),
            cfg.history_base.clone(),
            cfg.storage_base.clone(),
        )
    }
}
