//! `imserver [--config FILE]`: starts a node. With no file, every key has its default (a
//! single node, data under `./wukongim/data`); `WK_*` variables override either.

#[cfg(not(madsim))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(not(madsim))]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use std::path::PathBuf;
    use std::process::ExitCode;

    let mut args = std::env::args().skip(1);
    let mut file: Option<PathBuf> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-c" | "--config" => file = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("usage: imserver [--config FILE]   (TOML; WK_* environment variables override)");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("imserver: unknown argument {other:?}; try --help");
                return ExitCode::from(2);
            }
        }
    }
    let config = match server::config::Config::load(file.as_deref(), std::env::vars()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("imserver: {error}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.logger.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let data_dir = config.data_dir();
    let server = match server::server::Server::start(config).await {
        Ok(server) => server,
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    // One plain line for people and scripts (the tests read the port from it).
    let metrics = server.manager_addr.map_or("off".to_string(), |addr| format!("http://{addr}/metrics"));
    let wss = server.wss_addr.map_or(String::new(), |addr| format!(", WSS on wss://{addr}"));
    println!(
        "imserver: HTTP API on http://{}, TCP on {}, WebSocket on ws://{}{wss}, metrics on {metrics}, data in {}",
        server.http_addr,
        server.tcp_addr,
        server.ws_addr,
        data_dir.display()
    );
    wait_for_signal().await;
    tracing::info!("stopping");
    server.stop().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

/// SIGINT (Ctrl-C) or SIGTERM.
#[cfg(not(madsim))]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM can be handled");
    tokio::select! {
        biased;
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(madsim)]
fn main() {}
