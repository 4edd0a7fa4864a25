//! The loopback stand-in for the Segmind API. (Stub with the agreed API; the server lands from the
//! `sim` branch.)

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    pub entries: Vec<(String, f64)>,
}

impl FromStr for FaultSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut entries = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = part
                .split_once(':')
                .ok_or_else(|| format!("{part:?}: expected KIND:PROBABILITY"))?;
            let p: f64 = v
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: the probability is not a number"))?;
            entries.push((k.trim().to_owned(), p));
        }
        Ok(FaultSpec { entries })
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub delay: Duration,
    pub faults: FaultSpec,
    pub seed: u64,
    pub accepted_keys: Option<Vec<String>>,
    pub credits: f64,
    pub cost_per_image: f64,
    pub v2_expiry: Duration,
    pub slow_extra: Duration,
    pub retry_after_on_429: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(1000),
            faults: FaultSpec::default(),
            seed: 0,
            accepted_keys: None,
            credits: 100.0,
            cost_per_image: 0.048,
            v2_expiry: Duration::from_secs(3600),
            slow_extra: Duration::from_secs(30),
            retry_after_on_429: true,
        }
    }
}

pub struct SimServer {
    addr: SocketAddr,
}

impl SimServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

pub async fn start(_cfg: SimConfig) -> std::io::Result<SimServer> {
    Err(std::io::Error::other(
        "the stand-in server is not built yet",
    ))
}

pub async fn serve(_cfg: SimConfig, _port: u16) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "the stand-in server is not built yet",
    ))
}

pub fn demo_input_png() -> Vec<u8> {
    Vec::new()
}

#[derive(Debug, Clone, Default)]
pub struct SimStats {
    pub v1_requests: u64,
    pub max_in_flight: usize,
}

impl SimServer {
    pub fn stats(&self) -> SimStats {
        SimStats::default()
    }
}

pub fn draw_text(
    _img: &mut image::RgbImage,
    _x: i32,
    _y: i32,
    _scale: u32,
    _color: image::Rgb<u8>,
    _text: &str,
) {
}
