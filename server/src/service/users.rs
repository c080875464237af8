//! Users and devices: tokens, device quit, system uids.

#[allow(unused_imports)]
use super::{Node, ServiceError, ServiceResult};
