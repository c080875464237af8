//! imserver: a WuKongIM-compatible instant-messaging server whose every byte of state lives
//! in raft groups of the `consensus` core (DESIGN §4).
//!
//! - [`driver`]: the multi-raft driver (group commit: one batch, one fsync per iteration);
//! - [`sm`]: the state machines of the slot and channel tiers;
//! - [`service`]: what the node does for its callers, above the groups;
//! - `api` and `server` (real tokio only): the HTTP API and starting a node.
//!
//! The cluster core (driver, state machines, service) also builds under `--cfg madsim`.

pub mod config;
pub mod driver;
pub mod gateway;
pub mod ids;
pub mod metrics;
pub mod service;
pub mod sm;

#[cfg(not(madsim))]
pub mod api;
#[cfg(not(madsim))]
pub mod server;
