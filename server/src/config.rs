//! Configuration: a TOML file with WuKongIM's key names, then `WK_*` environment
//! overrides (`WK_HTTPADDR`, `WK_CLUSTER_NODEID`, ...: the key path upper-cased, `.` → `_`),
//! over defaults for every key, so that no file is needed to start.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Config {
    /// Where the data lives: `rootDir/data`. Relative paths are under the working directory.
    pub root_dir: PathBuf,
    /// The HTTP API. Bound to loopback whatever this says while `managerToken` is empty.
    pub http_addr: String,
    /// Binary WKProto over TCP.
    pub addr: String,
    /// WKProto and JSON-RPC over WebSocket.
    pub ws_addr: String,
    /// WKProto and JSON-RPC over WebSocket over TLS, e.g. `wss://0.0.0.0:5210`; default ""
    /// (off). Needs `wssConfig`.
    pub wss_addr: String,
    pub wss_config: WssConfig,
    /// Clients must present the token set through `/user/token` (WuKongIM's default is off;
    /// ours is on: an open server is a deliberate choice).
    pub token_auth_on: bool,
    /// When set, every HTTP API call must carry it in a `token` header.
    pub manager_token: String,
    pub cluster: ClusterConfig,
    pub manager: ManagerConfig,
    pub logger: LoggerConfig,
    pub external: ExternalConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's id, below 1024 (it is the snowflake node id of the message ids).
    pub node_id: u64,
    pub slot_count: u32,
    /// Milliseconds per raft tick.
    pub tick_interval_ms: u64,
    /// Ticks an idle channel group stays in memory.
    pub channel_destroy_after_idle_tick: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ManagerConfig {
    pub on: bool,
    /// Prometheus `/metrics`, `/varz`, `/health`.
    pub addr: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct LoggerConfig {
    /// A `tracing` filter: `info`, `debug`, `server=debug,info`, ...
    pub level: String,
}

/// The certificate of the WSS listener. Read at start, which fails if they cannot be read.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WssConfig {
    /// PEM: the server's certificate first, then the chain; default "".
    pub cert_file: PathBuf,
    /// PEM: its private key (PKCS#8, PKCS#1 or SEC1); default "".
    pub key_file: PathBuf,
}

/// The addresses `/route` hands to clients; empty = derived from the listeners.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ExternalConfig {
    pub ip: String,
    pub tcp_addr: String,
    pub ws_addr: String,
    pub wss_addr: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            root_dir: PathBuf::from("wukongim"),
            http_addr: "0.0.0.0:5001".into(),
            addr: "tcp://0.0.0.0:5100".into(),
            ws_addr: "ws://0.0.0.0:5200".into(),
            wss_addr: String::new(),
            wss_config: WssConfig::default(),
            token_auth_on: true,
            manager_token: String::new(),
            cluster: ClusterConfig::default(),
            manager: ManagerConfig::default(),
            logger: LoggerConfig::default(),
            external: ExternalConfig::default(),
        }
    }
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            node_id: 1001,
            slot_count: 64,
            tick_interval_ms: 150,
            channel_destroy_after_idle_tick: 3600,
        }
    }
}

impl Default for ManagerConfig {
    fn default() -> ManagerConfig {
        ManagerConfig { on: true, addr: "0.0.0.0:5300".into() }
    }
}

impl Default for LoggerConfig {
    fn default() -> LoggerConfig {
        LoggerConfig { level: "info".into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The defaults, then `file` if given, then the `WK_*` variables of `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut value = toml::Value::try_from(Config::default()).expect("the defaults serialize");
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|error| ConfigError::Read { path: path.to_path_buf(), error })?;
            let from_file: toml::Value = toml::from_str(&text)
                .map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display())))?;
            merge(&mut value, from_file);
        }
        for (name, text) in env {
            let Some(key) = name.strip_prefix("WK_") else { continue };
            if !override_key(&mut value, &key.to_ascii_lowercase(), &text)? {
                return Err(ConfigError::Invalid(format!("{name} names no configuration key")));
            }
        }
        let config: Config =
            value.try_into().map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.cluster.node_id == 0 || self.cluster.node_id >= 1024 {
            return Err(ConfigError::Invalid(format!(
                "cluster.nodeId must be in 1..=1023 (it is the snowflake node id), not {}",
                self.cluster.node_id
            )));
        }
        if self.cluster.slot_count == 0 {
            return Err(ConfigError::Invalid("cluster.slotCount must be at least 1".into()));
        }
        if self.cluster.tick_interval_ms == 0 {
            return Err(ConfigError::Invalid("cluster.tickIntervalMs must be at least 1".into()));
        }
        Ok(())
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root_dir.join("data")
    }
}

/// `overlay`'s keys replace `base`'s, table by table.
fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Sets the leaf whose path, joined by `_` and lower-cased, is `key`, parsing `text` as the
/// leaf's type. False when there is no such leaf.
fn override_key(value: &mut toml::Value, key: &str, text: &str) -> Result<bool, ConfigError> {
    let toml::Value::Table(table) = value else { return Ok(false) };
    for (name, child) in table.iter_mut() {
        let name = name.to_ascii_lowercase();
        if let toml::Value::Table(_) = child {
            if let Some(rest) = key.strip_prefix(&name).and_then(|r| r.strip_prefix('_')) {
                if override_key(child, rest, text)? {
                    return Ok(true);
                }
            }
        } else if name == key {
            *child = parse_like(child, text).ok_or_else(|| {
                ConfigError::Invalid(format!("WK_{}: cannot use {text:?} here", key.to_uppercase()))
            })?;
            return Ok(true);
        }
    }
    Ok(false)
}

fn parse_like(existing: &toml::Value, text: &str) -> Option<toml::Value> {
    Some(match existing {
        toml::Value::Boolean(_) => toml::Value::Boolean(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return None,
        }),
        toml::Value::Integer(_) => toml::Value::Integer(text.parse().ok()?),
        _ => toml::Value::String(text.to_string()),
    })
}

/// `host:port` from WuKongIM-style addresses such as `tcp://0.0.0.0:5100`.
pub fn socket_addr(addr: &str) -> &str {
    addr.split_once("://").map_or(addr, |(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let config = Config::load(None, env(&[])).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.cluster.slot_count, 64);
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wk.toml");
        std::fs::write(&path, "httpAddr = \"127.0.0.1:7001\"\n[cluster]\nnodeId = 7\n").unwrap();
        let config =
            Config::load(Some(&path), env(&[("WK_CLUSTER_NODEID", "9"), ("WK_TOKENAUTHON", "false")]))
                .unwrap();
        assert_eq!(config.http_addr, "127.0.0.1:7001");
        assert_eq!(config.cluster.node_id, 9);
        assert!(!config.token_auth_on);
        assert_eq!(config.cluster.slot_count, 64);
    }

    #[test]
    fn wss_from_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wk.toml");
        std::fs::write(&path, "wssAddr = \"wss://0.0.0.0:5210\"\n[wssConfig]\nkeyFile = \"key.pem\"\n")
            .unwrap();
        let config =
            Config::load(Some(&path), env(&[("WK_WSSCONFIG_CERTFILE", "/etc/wk/cert.pem")])).unwrap();
        assert_eq!(config.wss_addr, "wss://0.0.0.0:5210");
        assert_eq!(config.wss_config.cert_file, PathBuf::from("/etc/wk/cert.pem"));
        assert_eq!(config.wss_config.key_file, PathBuf::from("key.pem"));
        let config = Config::load(None, env(&[("WK_WSSADDR", "wss://127.0.0.1:0")])).unwrap();
        assert_eq!(config.wss_addr, "wss://127.0.0.1:0");
        assert_eq!(Config::default().wss_addr, "");
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(Config::load(None, env(&[("WK_NOSUCHKEY", "1")])).is_err());
        assert!(Config::load(None, env(&[("WK_CLUSTER_NODEID", "many")])).is_err());
        assert!(Config::load(None, env(&[("WK_CLUSTER_NODEID", "5000")])).is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wk.toml");
        std::fs::write(&path, "httpAdr = \"typo\"\n").unwrap();
        assert!(Config::load(Some(&path), env(&[])).is_err());
    }
}
