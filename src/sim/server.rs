//! The stand-in's HTTP server: binds 127.0.0.1, serves each connection with hyper directly (not
//! `axum::serve`) so that a handler can drop its own connection without answering (the `reset`
//! fault: each connection carries a [`ConnKill`] token), and stops on shutdown or drop.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::SimConfig;
use super::faults::{Fault, FaultPlan};
use super::handlers::router;
use super::state::{ConnKill, Inner, Shared, SimStats};

/// A running stand-in on `127.0.0.1`. Stops on [`SimServer::shutdown`] or when dropped.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl std::fmt::Debug for SimServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl SimServer {
    /// The bound address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The v1 base URL to give a client: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.shared.origin)
    }

    /// A snapshot of the statistics (after billing every v2 job that is due).
    pub fn stats(&self) -> SimStats {
        let mut inner = self.shared.lock();
        self.shared.settle(&mut inner, Instant::now());
        inner.stats.clone()
    }

    /// The current balance (after billing every v2 job that is due).
    pub fn credits(&self) -> f64 {
        let mut inner = self.shared.lock();
        self.shared.settle(&mut inner, Instant::now());
        inner.credits
    }

    /// Scripted faults: the next generation requests (v1 POST or v2 submit) that pass the key,
    /// content-type, field and balance checks get these, in order, before any random draw. A v2-only fault (`fail`, `expire`) reaching a v1 request is used up
    /// without effect.
    pub fn push_faults(&self, f: impl IntoIterator<Item = Fault>) {
        self.shared.plan().push(f);
    }

    /// Stops accepting and closes every connection.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts the stand-in on `127.0.0.1:port` (`0`: any free port). Must be called inside a tokio
/// runtime; the server runs on it until shut down.
pub async fn start_on(cfg: SimConfig, port: u16) -> std::io::Result<SimServer> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    let plan = FaultPlan::new(cfg.faults.clone(), cfg.seed);
    let shared = Arc::new(Shared {
        origin: format!("http://{addr}"),
        inner: Mutex::new(Inner {
            stats: SimStats::default(),
            credits: cfg.credits,
            seed_rng: fastrand::Rng::with_seed(cfg.seed ^ 0x5EED_5EED_5EED_5EED),
            next_id: 0,
            jobs: HashMap::new(),
            outputs: HashMap::new(),
            history: Vec::new(),
            assets: HashMap::new(),
            next_asset: 0,
        }),
        faults: Mutex::new(plan),
        in_flight: AtomicUsize::new(0),
        renders: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 8)),
        ),
        cfg,
    });
    let stop = CancellationToken::new();
    tokio::spawn(accept_loop(listener, router(shared.clone()), stop.clone()));
    Ok(SimServer { addr, shared, stop })
}

async fn accept_loop(listener: TcpListener, app: Router, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, app.clone(), stop.child_token()));
            }
            // Out of file descriptors or a connection reset while queued: wait a moment.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, app: Router, kill: CancellationToken) {
    use hyper::service::Service as _;
    let svc = hyper_util::service::TowerToHyperService::new(app);
    let token = kill.clone();
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnKill(token.clone()));
            svc.call(req)
        });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        // Dropping the connection closes the socket without an answer.
        _ = kill.cancelled() => {}
    }
}

/// Runs the stand-in on `port` until Ctrl-C, printing its base URL on stdout.
pub async fn serve(cfg: SimConfig, port: u16) -> std::io::Result<()> {
    let server = start_on(cfg, port).await?;
    println!("{}", server.base_url());
    eprintln!("fluxcn stand-in listening; press Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    server.shutdown();
    Ok(())
}
