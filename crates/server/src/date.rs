//! The HTTP `date` header in simulation: hyper stamps every response with
//! the wall clock unless the response already carries one, which would put
//! wall time into the bytes of a simulated run. This layer sets it first,
//! from the server's own emulated clock: [`SIM_EPOCH_SECS`] plus the run's
//! emulated time plus any clock offset in force on the server.

use std::sync::{Arc, Mutex};
// `SystemTime` only as a value to format (epoch + emulated time), never
// read from the wall clock.
use std::time::{Duration, SystemTime};

use fleetsim_net::Net;
use tonic::codegen::http;

/// What a simulated run's time zero reads as on a server's clock:
/// 2000-01-01T00:00:00Z. A fixed value, so runs stay byte-identical.
pub(crate) const SIM_EPOCH_SECS: u64 = 946_684_800;

/// The date a server with `offset_ms` of clock offset reads `elapsed` into
/// a run, as an HTTP date.
pub(crate) fn http_date(elapsed: Duration, offset_ms: i64) -> String {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(SIM_EPOCH_SECS) + elapsed;
    let at = if offset_ms >= 0 {
        at + Duration::from_millis(offset_ms.unsigned_abs())
    } else {
        at.checked_sub(Duration::from_millis(offset_ms.unsigned_abs()))
            .unwrap_or(SystemTime::UNIX_EPOCH)
    };
    httpdate::fmt_http_date(at)
}

/// Stamps the answers of `server` with its emulated date.
#[derive(Clone, Debug)]
pub(crate) struct DateLayer {
    net: Net,
    server: String,
    /// The last date made, by the second it names: an HTTP date has one
    /// second's resolution, so most answers reuse it.
    last: Arc<Mutex<Option<(u64, http::HeaderValue)>>>,
}

impl DateLayer {
    /// A date stamp for `server` on `net`.
    pub(crate) fn new(net: Net, server: &str) -> DateLayer {
        DateLayer {
            net,
            server: server.to_string(),
            last: Arc::default(),
        }
    }

    /// The layer proper: stamps each answer as it is ready, as hyper would.
    pub(crate) fn into_layer(
        self,
    ) -> tower::util::MapResponseLayer<
        impl FnOnce(http::Response<tonic::body::Body>) -> http::Response<tonic::body::Body> + Clone,
    > {
        tower::util::MapResponseLayer::new(move |mut res: http::Response<tonic::body::Body>| {
            res.headers_mut().insert(http::header::DATE, self.header());
            res
        })
    }

    fn header(&self) -> http::HeaderValue {
        let elapsed = self.net.elapsed();
        let offset_ms = self.net.clock_offset(&self.server);
        let second = (elapsed.as_millis() as i128 + i128::from(offset_ms)).div_euclid(1000) as u64;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((s, v)) = last.as_ref()
            && *s == second
        {
            return v.clone();
        }
        let date = http_date(elapsed, offset_ms);
        let v = http::HeaderValue::from_str(&date).expect("an HTTP date is a valid header value");
        *last = Some((second, v.clone()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_server_dates_its_answers_from_the_emulated_clock() {
        assert_eq!(
            http_date(Duration::from_secs(90), 0),
            "Sat, 01 Jan 2000 00:01:30 GMT"
        );
    }

    #[test]
    fn a_clock_offset_moves_the_date_a_server_reads() {
        assert_eq!(
            http_date(Duration::from_secs(90), -30_000),
            "Sat, 01 Jan 2000 00:01:00 GMT"
        );
        assert_eq!(
            http_date(Duration::ZERO, 3_600_000),
            "Sat, 01 Jan 2000 01:00:00 GMT"
        );
    }
}
