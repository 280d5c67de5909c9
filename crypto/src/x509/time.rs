//! Unix seconds to and from X.509 `Time` (UTCTime up to 2049, GeneralizedTime after, as
//! RFC 5280 §4.1.2.5 requires).

use crate::error::{Error, Result};
use core::time::Duration;
use der::DateTime;
use x509_cert::time::Time;

pub(crate) fn from_unix(secs: u64) -> Result<Time> {
    let dt = DateTime::from_unix_duration(Duration::from_secs(secs))
        .map_err(|_| Error::InvalidLength("time"))?;
    Ok(Time::from(dt))
}

pub(crate) fn to_unix(time: &Time) -> u64 {
    time.to_unix_duration().as_secs()
}
