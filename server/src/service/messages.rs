//! Messages: send, history, lookups.

#[allow(unused_imports)]
use super::{Node, ServiceError, ServiceResult};
