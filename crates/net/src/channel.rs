//! tonic channels over the seam: lazy, reconnecting, every RPC with a
//! deadline and every connection with HTTP/2 keepalive, so a partition shows
//! up as a failure rather than a hang.

use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::net::Net;

/// Deadlines and keepalive of a channel.
#[derive(Clone, Copy, Debug)]
pub struct ChannelTiming {
    /// Deadline of every RPC.
    pub rpc_deadline: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// HTTP/2 keepalive ping interval (while a call is in flight).
    pub keepalive: Duration,
}

/// A lazy channel from `from` to server `to`: it connects on first use and
/// reconnects after a failure.
pub fn channel(
    net: &Net,
    from: &str,
    from_token: &CancellationToken,
    to: &str,
    t: ChannelTiming,
) -> Channel {
    let net = net.clone();
    let from = from.to_string();
    let to = to.to_string();
    let token = from_token.clone();
    Endpoint::from_static("http://fleetsim.invalid")
        .timeout(t.rpc_deadline)
        .connect_timeout(t.connect_timeout)
        .http2_keep_alive_interval(t.keepalive)
        .keep_alive_timeout(t.rpc_deadline)
        .keep_alive_while_idle(false)
        .connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
            let (net, from, to, token) = (net.clone(), from.clone(), to.clone(), token.clone());
            async move { net.connect(&from, &token, &to).await.map(TokioIo::new) }
        }))
}

/// Runs one RPC under `deadline`, counting everything: waiting for the
/// channel to be ready (a connection stuck in its HTTP/2 handshake with a hung
/// server), sending, and the answer. tonic's own timeout covers only the
/// request once a connection is ready, which is not enough here.
pub async fn call<T>(
    deadline: Duration,
    rpc: impl std::future::Future<Output = Result<T, tonic::Status>>,
) -> Result<T, tonic::Status> {
    match tokio::time::timeout(deadline, rpc).await {
        Ok(r) => r,
        Err(_) => Err(tonic::Status::deadline_exceeded(
            "no answer before the deadline",
        )),
    }
}

/// Whether the RPC got no answer before its deadline (the request may still
/// have reached the server).
pub fn timed_out(status: &tonic::Status) -> bool {
    // tonic reports its own client deadline as CANCELLED "Timeout expired".
    status.code() == tonic::Code::DeadlineExceeded || status.message() == "Timeout expired"
}

/// Why an RPC failed, in a fixed vocabulary that never carries transport
/// text: a server's own refusal keeps its message (the codes fleetsim's
/// servers refuse with), anything else is "timed out", "unreachable",
/// "connection lost" or "failed".
pub fn failure_reason(status: &tonic::Status) -> String {
    use tonic::Code::*;
    if timed_out(status) {
        return "timed out".into();
    }
    match status.code() {
        FailedPrecondition | ResourceExhausted | PermissionDenied | AlreadyExists
        | InvalidArgument | NotFound => status.message().to_string(),
        Unavailable => "unreachable".into(),
        Unknown | Cancelled | Internal => "connection lost".into(),
        _ => "failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::failure_reason;
    use tonic::Status;

    #[test]
    fn transport_errors_are_reported_in_a_fixed_vocabulary() {
        assert_eq!(
            failure_reason(&Status::cancelled("Timeout expired")),
            "timed out"
        );
        assert_eq!(
            failure_reason(&Status::deadline_exceeded("no answer before the deadline")),
            "timed out"
        );
        assert_eq!(
            failure_reason(&Status::unavailable(
                "error trying to connect: tcp connect error"
            )),
            "unreachable"
        );
        assert_eq!(
            failure_reason(&Status::unknown("h2 protocol error: stream reset")),
            "connection lost"
        );
    }

    #[test]
    fn a_servers_own_refusal_keeps_its_words() {
        let s = Status::resource_exhausted("all 8 trunks of expansion-v2 are busy");
        assert_eq!(failure_reason(&s), "all 8 trunks of expansion-v2 are busy");
    }
}
