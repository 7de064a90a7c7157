//! The fault plane: crash resets every connection of a server and refuses new
//! ones; a partition stalls crossing connections and makes connects time out;
//! heal releases them.

use std::time::Duration;

use fleetsim_net::{Mode, Net};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);

/// Binds `name` and echoes every byte on every connection it accepts.
async fn echo_server(net: &Net, name: &str) -> CancellationToken {
    let token = CancellationToken::new();
    let mut incoming = net.bind(name, &token).await.unwrap();
    tokio::spawn(async move {
        while let Some(Ok(mut io)) = incoming.next().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    token
}

async fn roundtrip(io: &mut fleetsim_net::FaultIo) -> std::io::Result<()> {
    io.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    io.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    Ok(())
}

async fn crash_resets_and_refuses(mode: Mode) {
    let net = Net::new(mode, CONNECT_TIMEOUT);
    let server = echo_server(&net, "primary").await;
    let me = CancellationToken::new();
    let mut a = net.connect("phone-1", &me, "primary").await.unwrap();
    let mut b = net.connect("phone-2", &me, "primary").await.unwrap();
    roundtrip(&mut a).await.unwrap();
    roundtrip(&mut b).await.unwrap();

    net.unbind("primary");
    server.cancel();
    for io in [&mut a, &mut b] {
        let err = roundtrip(io).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    }
    let refused = net.connect("phone-1", &me, "primary").await.unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    // A restart is a fresh bind under the same name.
    let _again = echo_server(&net, "primary").await;
    let mut c = net.connect("phone-1", &me, "primary").await.unwrap();
    roundtrip(&mut c).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn crash_resets_every_open_connection_and_refuses_new_ones_in_sim() {
    crash_resets_and_refuses(Mode::Sim).await;
}

#[tokio::test]
async fn crash_resets_every_open_connection_and_refuses_new_ones_over_tcp() {
    crash_resets_and_refuses(Mode::Live).await;
}

#[tokio::test(start_paused = true)]
async fn partition_stalls_crossing_connections_until_heal() {
    let net = Net::new(Mode::Sim, CONNECT_TIMEOUT);
    let _s = echo_server(&net, "primary").await;
    let me = CancellationToken::new();
    let mut across = net.connect("phone-1", &me, "primary").await.unwrap();
    let mut inside = net.connect("phone-2", &me, "primary").await.unwrap();

    net.partition(&[vec!["primary".into(), "phone-2".into()]]);
    assert!(!net.reachable("phone-1", "primary"));
    // Bytes are held, not refused: the call just does not complete.
    let stalled = tokio::time::timeout(Duration::from_secs(60), roundtrip(&mut across)).await;
    assert!(stalled.is_err(), "a partitioned connection must stall");
    roundtrip(&mut inside).await.unwrap();

    // New connects across the cut hang until the connect timeout.
    let start = tokio::time::Instant::now();
    let err = net.connect("phone-1", &me, "primary").await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(start.elapsed(), CONNECT_TIMEOUT);

    net.heal();
    roundtrip(&mut across).await.unwrap();
    let mut fresh = net.connect("phone-1", &me, "primary").await.unwrap();
    roundtrip(&mut fresh).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_crashed_client_loses_its_own_connections() {
    let net = Net::new(Mode::Sim, CONNECT_TIMEOUT);
    let _s = echo_server(&net, "primary").await;
    let secondary = CancellationToken::new();
    let mut io = net
        .connect("secondary", &secondary, "primary")
        .await
        .unwrap();
    roundtrip(&mut io).await.unwrap();
    secondary.cancel();
    assert!(roundtrip(&mut io).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn a_connect_waiting_across_a_partition_completes_when_it_heals() {
    let net = Net::new(Mode::Sim, CONNECT_TIMEOUT);
    let _s = echo_server(&net, "primary").await;
    let me = CancellationToken::new();
    net.partition(&[vec!["primary".into()]]);
    let healer = net.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        healer.heal();
    });
    let start = tokio::time::Instant::now();
    let mut io = net.connect("phone-1", &me, "primary").await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    roundtrip(&mut io).await.unwrap();
}
