//! Checks of the ids and uid lists callers hand to the users and channels services: what
//! WuKongIM refuses with a 400 (empty ids, `@#&`, channel type 0), and the limits.

use std::collections::BTreeSet;

use super::{ServiceError, ServiceResult};
use crate::ids::has_special_char;

/// Uids in one request at most (subscribers, list members, system uids). WuKongIM has no
/// limit; 10,000 keeps one request's raft command under a megabyte and its apply short.
pub const UIDS_PER_REQUEST_MAX: usize = 10_000;

/// Bytes of a uid or channel id at most. Ids are short strings (uids, group numbers) in
/// practice; 256 leaves room and keeps every key small.
pub const ID_BYTES_MAX: usize = 256;

/// Bytes of a token at most: business servers hand out UUIDs or JWTs, well below this.
pub const TOKEN_BYTES_MAX: usize = 1024;

/// `id` is a usable uid or channel id: not blank, no `@#&`, not too long.
pub fn check_id(field: &str, id: &str) -> ServiceResult<()> {
    if id.trim().is_empty() {
        return Err(ServiceError::Invalid(format!("{field} must not be empty")));
    }
    if has_special_char(id) {
        return Err(ServiceError::Invalid(format!("{field} must not contain @, # or &: {id:?}")));
    }
    if id.len() > ID_BYTES_MAX {
        return Err(ServiceError::Invalid(format!("{field} is longer than {ID_BYTES_MAX} bytes")));
    }
    Ok(())
}

/// A channel id and a channel type other than 0.
pub fn check_channel(channel_id: &str, channel_type: u8) -> ServiceResult<()> {
    check_id("channel_id", channel_id)?;
    if channel_type == 0 {
        return Err(ServiceError::Invalid("channel_type must not be 0".into()));
    }
    Ok(())
}

/// The non-blank uids of a list (blank ones are skipped, as WuKongIM does), each checked
/// as an id, each once, in their order; at most [`UIDS_PER_REQUEST_MAX`].
pub fn check_uids(field: &str, uids: &[String]) -> ServiceResult<Vec<String>> {
    if uids.len() > UIDS_PER_REQUEST_MAX {
        return Err(ServiceError::Invalid(format!(
            "{field} holds {} uids; at most {UIDS_PER_REQUEST_MAX} per request",
            uids.len()
        )));
    }
    let mut seen = BTreeSet::new();
    let mut checked = Vec::with_capacity(uids.len());
    for uid in uids.iter().filter(|uid| !uid.trim().is_empty()) {
        check_id(field, uid)?;
        if seen.insert(uid.as_str()) {
            checked.push(uid.clone());
        }
    }
    Ok(checked)
}

/// Like [`check_uids`], for lists that must name someone.
pub fn check_some_uids(field: &str, uids: &[String]) -> ServiceResult<Vec<String>> {
    let uids = check_uids(field, uids)?;
    if uids.is_empty() {
        return Err(ServiceError::Invalid(format!("{field} must not be empty")));
    }
    Ok(uids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_uid_lists() {
        assert!(check_id("uid", "alice").is_ok());
        for bad in ["", "  ", "a@b", "a#b", "a&b"] {
            assert!(matches!(check_id("uid", bad), Err(ServiceError::Invalid(_))), "{bad:?}");
        }
        assert!(check_id("uid", &"x".repeat(ID_BYTES_MAX + 1)).is_err());
        assert!(check_channel("g1", 0).is_err());
        assert!(check_channel("g1", 2).is_ok());
        let uids: Vec<String> = ["a", " ", "b", "a"].map(String::from).to_vec();
        assert_eq!(check_uids("uids", &uids).unwrap(), vec!["a".to_string(), "b".to_string()]);
        assert!(check_some_uids("uids", &[" ".to_string()]).is_err());
        assert!(check_uids("uids", &vec!["u".to_string(); UIDS_PER_REQUEST_MAX + 1]).is_err());
    }
}
