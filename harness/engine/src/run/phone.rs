//! `--phone` and the capability `phone`: phone scenarios run exactly when a phone is there, and
//! the capability cannot be declared without one.

use bc_suite::Capability;

use super::runner::{RunError, RunOptions};
use super::session::check_phone;
use crate::env::DesktopSpec;

/// The checked `--phone`; the capability `phone` added to `opts` when there is one.
pub(super) fn phone_of(opts: &mut RunOptions) -> Result<Option<DesktopSpec>, RunError> {
    let phone = match &opts.phone {
        Some(p) => Some(check_phone(p, opts.bin_dir.as_deref()).map_err(RunError::Usage)?),
        None => None,
    };
    match (&phone, opts.capabilities.contains(&Capability::Phone)) {
        (Some(_), false) => opts.capabilities.push(Capability::Phone),
        (None, true) => {
            return Err(RunError::Usage(
                "the capability `phone` comes from --phone, not from a declaration\nhint: add --phone builtin (or your phone's command), or drop `phone` from the capabilities".into(),
            ))
        }
        _ => {}
    }
    Ok(phone)
}
