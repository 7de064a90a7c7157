//! A phone's keepalives to its gatekeeper on one long-lived stream
//! (`Telephony.KeepaliveStream`): a message each way per keepalive instead of
//! a unary call, with the same deadline and the same answers. A member that
//! does not serve the stream (`UNIMPLEMENTED`) gets unary keepalives.

use std::time::Duration;

use fleetsim_net::call as call_rpc;
use fleetsim_proto::pb;
use tokio::sync::mpsc;
use tonic::Status;
use tonic::transport::Channel;

type Client = pb::telephony_client::TelephonyClient<Channel>;

/// The open stream of one registration.
struct Stream {
    tx: mpsc::Sender<pb::KeepaliveRequest>,
    replies: tonic::Streaming<pb::KeepaliveReply>,
}

/// Keepalives to one gatekeeper.
#[derive(Default)]
pub(crate) struct Keepalives {
    stream: Option<Stream>,
    /// The member answered `UNIMPLEMENTED` to the stream: unary from now on.
    unary: bool,
}

impl Keepalives {
    /// Ends the stream (a new registration opens a new one).
    pub(crate) fn reset(&mut self) {
        self.stream = None;
    }

    /// One keepalive, answered within `deadline` or failed as a unary call
    /// would fail. Any failure ends the stream.
    pub(crate) async fn send(
        &mut self,
        client: Client,
        req: pb::KeepaliveRequest,
        deadline: Duration,
    ) -> Result<pb::KeepaliveReply, Status> {
        if !self.unary {
            let r = call_rpc(deadline, exchange(&mut self.stream, client.clone(), req.clone())).await;
            match r {
                Err(s) if s.code() == tonic::Code::Unimplemented => self.unary = true,
                Err(s) => {
                    self.stream = None;
                    return Err(s);
                }
                Ok(reply) => return Ok(reply),
            }
            self.stream = None;
        }
        let mut client = client;
        call_rpc(deadline, client.keepalive(req))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// Sends `req` on the stream (opening it with `req` as its first message)
/// and waits for its reply.
async fn exchange(
    stream: &mut Option<Stream>,
    mut client: Client,
    req: pb::KeepaliveRequest,
) -> Result<pb::KeepaliveReply, Status> {
    let s = match stream {
        Some(s) => {
            s.tx.try_send(req)
                .map_err(|_| Status::unavailable("keepalive stream closed"))?;
            s
        }
        None => {
            let (tx, rx) = mpsc::channel(1);
            let _ = tx.try_send(req);
            let replies = client
                .keepalive_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
                .await?
                .into_inner();
            stream.insert(Stream { tx, replies })
        }
    };
    match s.replies.message().await? {
        Some(reply) => Ok(reply),
        None => Err(Status::unavailable("keepalive stream ended")),
    }
}
