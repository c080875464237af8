//! Starting and stopping a node: the store, the driver with the node and slot groups, and
//! the HTTP listeners.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use storage::{GroupId, RocksConfig, RocksStore, Tier};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::api::{self, ApiState, RouteAddrs};
use crate::config::{socket_addr, Config};
use crate::driver::{Driver, DriverConfig, SmFactory};
use crate::gateway::conn::ConnConfig;
use crate::gateway::listen::{self, Gateway};
use crate::gateway::tls::{self, TlsError};
use crate::metrics::Metrics;
use crate::service::Node;
use crate::sm::channel::ChannelSm;
use crate::sm::slot::SlotSm;
use crate::sm::{NodeSm, StateMachine};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {path}: {error}")]
    DataDir { path: String, error: std::io::Error },
    #[error("cannot open the store: {0}")]
    Store(#[from] storage::Error),
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: String, error: std::io::Error },
    #[error("cannot start the driver's thread: {0}")]
    DriverThread(std::io::Error),
    #[error("cannot serve WSS: {0}")]
    Tls(#[from] TlsError),
}

/// A running node.
pub struct Server {
    pub node: Arc<Node>,
    /// Where the HTTP API and the manager port are listening.
    pub http_addr: SocketAddr,
    pub manager_addr: Option<SocketAddr>,
    /// Where clients connect: WKProto over TCP, WebSocket, and WebSocket over TLS (when
    /// `wssAddr` is set).
    pub tcp_addr: SocketAddr,
    pub ws_addr: SocketAddr,
    pub wss_addr: Option<SocketAddr>,
    stops: Vec<oneshot::Sender<()>>,
    /// Tells the gateway's listeners and connections to close.
    stop_gateway: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The state machine of each tier.
pub fn state_machines() -> SmFactory {
    Box::new(|group: GroupId| -> Box<dyn StateMachine> {
        match group.tier {
            Tier::Node => Box::new(NodeSm),
            Tier::Slot => Box::new(SlotSm::new(group.id as u32)),
            Tier::Channel => Box::new(ChannelSm::default()),
        }
    })
}

impl Server {
    pub async fn start(config: Config) -> Result<Server, StartError> {
        // The certificate first: a bad file stops the start before anything runs.
        let tls_acceptor =
            if config.wss_addr.is_empty() { None } else { Some(tls::acceptor(&config.wss_config)?) };
        let data_dir = config.data_dir();
        std::fs::create_dir_all(&data_dir)
            .map_err(|error| StartError::DataDir { path: data_dir.display().to_string(), error })?;
        let store = Arc::new(RocksStore::open(data_dir.join("store"), &RocksConfig::default())?);
        let metrics = Arc::new(Metrics::default());
        let driver_config = DriverConfig {
            node_id: config.cluster.node_id,
            tick: Duration::from_millis(config.cluster.tick_interval_ms),
            evict_after_ticks: config.cluster.channel_destroy_after_idle_tick,
            sync_on_thread: true,
        };
        let (mut driver, handle) =
            Driver::new(driver_config, store.clone(), state_machines(), metrics.clone())
                .map_err(StartError::DriverThread)?;
        let mut groups = vec![GroupId::new(Tier::Node, 0)];
        groups.extend((0..config.cluster.slot_count as u64).map(|slot| GroupId::new(Tier::Slot, slot)));
        driver.open_groups(&groups)?;
        let (stop_driver, driver_stopped) = oneshot::channel();
        let committed = driver.notify_committed();
        let mut tasks = vec![run_driver(driver, driver_stopped)?];
        let mut stops = vec![stop_driver];

        let node = Arc::new(Node::new(config.clone(), handle, store, metrics));
        node.start_fanout(committed);
        let (stop_gateway, stopping) = watch::channel(false);
        let conn_config = ConnConfig { node_id: config.cluster.node_id, ..ConnConfig::default() };
        let gateway = Gateway { node: node.clone(), config: Arc::new(conn_config), stopping };
        let tcp = bind(socket_addr(&config.addr)).await?;
        let tcp_addr = tcp.local_addr().expect("a bound listener has an address");
        tasks.push(tokio::spawn(listen::serve_tcp(tcp, gateway.clone())));
        let ws = bind(socket_addr(&config.ws_addr)).await?;
        let ws_addr = ws.local_addr().expect("a bound listener has an address");
        tasks.push(tokio::spawn(listen::serve_ws(ws, gateway.clone())));
        let mut wss_addr = None;
        if let Some(acceptor) = tls_acceptor {
            let wss = bind(socket_addr(&config.wss_addr)).await?;
            wss_addr = Some(wss.local_addr().expect("a bound listener has an address"));
            tasks.push(tokio::spawn(listen::serve_wss(wss, gateway, acceptor)));
        }
        tracing::info!(%tcp_addr, %ws_addr, ?wss_addr, "client gateway listening");
        let http_addr = api_listen_addr(&config);
        let http = bind(&http_addr).await?;
        let http_addr = http.local_addr().expect("a bound listener has an address");
        let state = ApiState { node: node.clone(), route: route_addrs(&config, tcp_addr, ws_addr, wss_addr) };
        let (stop, stopped) = oneshot::channel();
        tasks.push(serve(http, api::router(state.clone()), stopped));
        stops.push(stop);
        tracing::info!(%http_addr, node_id = config.cluster.node_id, data = %data_dir.display(), "HTTP API listening");

        let mut manager_addr = None;
        if config.manager.on {
            let listener = bind(socket_addr(&config.manager.addr)).await?;
            manager_addr = Some(listener.local_addr().expect("a bound listener has an address"));
            let (stop, stopped) = oneshot::channel();
            tasks.push(serve(listener, api::manager_router(state), stopped));
            stops.push(stop);
            tracing::info!(addr = ?manager_addr, "manager (metrics) listening");
        }
        Ok(Server { node, http_addr, manager_addr, tcp_addr, ws_addr, wss_addr, stops, tasks, stop_gateway })
    }

    /// Stops accepting, finishes the requests in flight, stops the driver. Everything
    /// acknowledged was fsynced before it was acknowledged, so nothing more is written.
    pub async fn stop(self) {
        // Listeners first, so no request reaches a stopped driver; the driver last.
        let _ = self.stop_gateway.send(true);
        for stop in self.stops.into_iter().rev() {
            let _ = stop.send(());
        }
        for task in self.tasks.into_iter().rev() {
            let _ = task.await;
        }
    }
}

/// Without a `managerToken` anyone who can reach the API owns the server: listen on
/// loopback only, whatever `httpAddr` says.
fn api_listen_addr(config: &Config) -> String {
    let addr = socket_addr(&config.http_addr).to_string();
    if !config.manager_token.is_empty() {
        return addr;
    }
    let port = addr.rsplit_once(':').map_or("5001", |(_, port)| port);
    let loopback = format!("127.0.0.1:{port}");
    if addr != loopback {
        tracing::warn!(
            configured = %addr,
            listening = %loopback,
            "managerToken is not set: the HTTP API listens on loopback only; set managerToken to serve it on {addr}"
        );
    }
    loopback
}

/// What `/route` tells clients: the `external.*` addresses, or the host `external.ip`
/// (loopback if unset) with the ports the gateway listens on (no WSS address while WSS is
/// off).
fn route_addrs(config: &Config, tcp: SocketAddr, ws: SocketAddr, wss: Option<SocketAddr>) -> RouteAddrs {
    let external = &config.external;
    let host = if external.ip.is_empty() { "127.0.0.1" } else { external.ip.as_str() };
    let or = |given: &str, derived: String| if given.is_empty() { derived } else { given.to_string() };
    RouteAddrs {
        tcp_addr: or(&external.tcp_addr, format!("{host}:{}", tcp.port())),
        ws_addr: or(&external.ws_addr, format!("ws://{host}:{}", ws.port())),
        wss_addr: match wss {
            Some(wss) => or(&external.wss_addr, format!("wss://{host}:{}", wss.port())),
            None => external.wss_addr.clone(),
        },
    }
}

/// Runs the driver on a thread of its own: its fsync blocks that thread, not one of the
/// runtime's workers serving connections and requests. The task it returns ends when the
/// driver does.
fn run_driver(
    driver: Driver<storage::RocksEngine>,
    stopped: oneshot::Receiver<()>,
) -> Result<JoinHandle<()>, StartError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::DriverThread)?;
    let (done, finished) = oneshot::channel();
    std::thread::Builder::new()
        .name("imserver-driver".into())
        .spawn(move || {
            runtime.block_on(driver.run(stopped));
            let _ = done.send(());
        })
        .map_err(StartError::DriverThread)?;
    Ok(tokio::spawn(async move {
        let _ = finished.await;
    }))
}

async fn bind(addr: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr).await.map_err(|error| StartError::Listen { addr: addr.to_string(), error })
}

fn serve(listener: TcpListener, router: axum::Router, stopped: oneshot::Receiver<()>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(shutdown).await {
            tracing::error!(%error, "HTTP server failed");
        }
    })
}
