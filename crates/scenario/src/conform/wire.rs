//! The wire side of the checks: the channel, deadlines, status names, and a
//! codec that sends bytes no protobuf decoder accepts.

use std::time::Duration;

use prost::bytes::{Buf as _, BufMut as _};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};

/// Connects to `address` (`HOST:PORT`), every RPC under `deadline`.
pub(super) async fn connect(address: &str, deadline: Duration) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| e.to_string())?
        .connect_timeout(deadline)
        .timeout(deadline);
    endpoint.connect().await.map_err(|e| {
        let mut msg = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let s_text = s.to_string();
            if !msg.contains(&s_text) {
                msg = format!("{msg}: {s_text}");
            }
            source = s.source();
        }
        if msg.contains("Connection refused") {
            return "nothing listens there (connection refused)".to_string();
        }
        msg
    })
}

/// Whether what answers on `chan` is a gRPC server: a health check gets a
/// gRPC answer, even a refusal (`UNIMPLEMENTED` from a server without the
/// health service), not a transport failure or silence.
pub(super) async fn speaks_grpc(chan: Channel, deadline: Duration) -> Result<(), String> {
    use tonic::Code::{Cancelled, Internal, Unavailable, Unknown};
    let mut client = tonic_health::pb::health_client::HealthClient::new(chan);
    let req = tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    };
    match tokio::time::timeout(deadline, client.check(req)).await {
        Err(_) => Err(format!(
            "it took the connection and answered nothing within {deadline:?}"
        )),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(s)) if fleetsim_net::timed_out(&s) => Err(format!(
            "it took the connection and answered nothing within {deadline:?}"
        )),
        Ok(Err(s)) if matches!(s.code(), Unknown | Internal | Unavailable | Cancelled) => {
            Err(format!(
                "no gRPC answer came: {} (it closed the connection, or what answers is not gRPC)",
                said(&s)
            ))
        }
        Ok(Err(_)) => Ok(()),
    }
}

/// A status as the gRPC spec names it, with its message.
pub(super) fn said(s: &Status) -> String {
    // tonic reports its own deadline as CANCELLED "Timeout expired", which
    // reads as if the member cancelled the call.
    if fleetsim_net::timed_out(s) {
        return "no answer within the deadline (DEADLINE_EXCEEDED)".into();
    }
    if s.message().is_empty() {
        code_name(s.code()).to_string()
    } else {
        format!("{} {:?}", code_name(s.code()), s.message())
    }
}

/// The gRPC spec's name of a status code.
pub(super) fn code_name(c: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match c {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Sends `body` as it is to the unary method `path` and returns the reply's
/// bytes or the status.
pub(super) async fn raw_unary(
    chan: Channel,
    path: &'static str,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(chan);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(body), path, RawCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// Bytes in, bytes out: no protobuf on either side.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut out = Vec::with_capacity(src.remaining());
        while src.has_remaining() {
            let chunk = src.chunk();
            out.extend_from_slice(chunk);
            let n = chunk.len();
            src.advance(n);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_tonic_timed_out_reads_as_no_answer_not_as_a_cancel() {
        let timed_out = Status::cancelled("Timeout expired");
        assert_eq!(
            said(&timed_out),
            "no answer within the deadline (DEADLINE_EXCEEDED)"
        );
        let refused = Status::failed_precondition("home visible");
        assert_eq!(said(&refused), "FAILED_PRECONDITION \"home visible\"");
    }
}
