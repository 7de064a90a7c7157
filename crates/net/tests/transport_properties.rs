//! Property of the in-memory transport: whatever schedule of latency,
//! stall and held-bytes faults (partition, one-way cut, hang) the fault
//! plane goes through while two ends exchange bytes, once every fault is
//! undone each end has read exactly the bytes the other wrote, in order.
//! On a paused clock, so a case costs no wall time.

use std::time::Duration;

use fleetsim_net::{FaultIo, Mode, Net};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;

const PHONE: &str = "phone";
const PBX: &str = "pbx";

/// One change of the fault plane.
#[derive(Debug, Clone)]
enum Change {
    /// Latency on the phone's (true) or the server's link; zero removes it.
    Latency {
        phone: bool,
        delay_ms: u64,
        jitter_ms: u64,
    },
    /// Takes the phone's or the server's link down (`on`) or up once.
    Stall { phone: bool, on: bool },
    /// The phone and the server in different groups.
    Partition,
    /// Every partition and one-way cut removed.
    Heal,
    /// Bytes one way (phone to server when `out`) held, or released.
    OneWay { out: bool, on: bool },
    /// The server hung (`on`) or resumed once.
    Hang { on: bool },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<bool>(), 0u64..3_000, 0u64..500).prop_map(|(phone, delay_ms, jitter_ms)| {
            Change::Latency {
                phone,
                delay_ms,
                jitter_ms,
            }
        }),
        (any::<bool>(), any::<bool>()).prop_map(|(phone, on)| Change::Stall { phone, on }),
        Just(Change::Partition),
        Just(Change::Heal),
        (any::<bool>(), any::<bool>()).prop_map(|(out, on)| Change::OneWay { out, on }),
        any::<bool>().prop_map(|on| Change::Hang { on }),
    ]
}

/// Changes, each after a pause (ms).
fn fault_schedule() -> impl Strategy<Value = Vec<(u64, Change)>> {
    prop::collection::vec((0u64..20_000, change()), 0..12)
}

/// Chunks one end writes, each after a pause (ms); some larger than the
/// in-memory pipe's 16 KiB buffer.
fn writes() -> impl Strategy<Value = Vec<(u64, Vec<u8>)>> {
    let chunk = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 1..2_000),
        1 => prop::collection::vec(any::<u8>(), 16_000..40_000),
    ];
    prop::collection::vec((0u64..10_000, chunk), 0..12)
}

/// Applies `changes` in turn, then undoes whatever is still in force:
/// latency to zero, every stall and hang released, the network healed.
async fn drive_faults(net: Net, changes: Vec<(u64, Change)>) {
    let node = |phone: bool| if phone { PHONE } else { PBX };
    let (mut stalls, mut hangs) = ([0u32; 2], 0u32);
    for (pause, c) in changes {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        match c {
            Change::Latency {
                phone,
                delay_ms,
                jitter_ms,
            } => net.latency(
                node(phone),
                Duration::from_millis(delay_ms),
                Duration::from_millis(jitter_ms),
            ),
            Change::Stall { phone, on } => {
                let n = &mut stalls[usize::from(phone)];
                if on {
                    *n += 1;
                    net.stall(node(phone), true);
                } else if *n > 0 {
                    *n -= 1;
                    net.stall(node(phone), false);
                }
            }
            Change::Partition => net.partition(&[vec![PHONE.into()], vec![PBX.into()]]),
            Change::Heal => net.heal(),
            Change::OneWay { out, on } => {
                let (from, to) = if out { (PHONE, PBX) } else { (PBX, PHONE) };
                net.one_way(&[from.into()], &[to.into()], on);
            }
            Change::Hang { on } => {
                if on {
                    hangs += 1;
                    net.hang(PBX, true);
                } else if hangs > 0 {
                    hangs -= 1;
                    net.hang(PBX, false);
                }
            }
        }
    }
    for phone in [false, true] {
        net.latency(node(phone), Duration::ZERO, Duration::ZERO);
        for _ in 0..stalls[usize::from(phone)] {
            net.stall(node(phone), false);
        }
    }
    for _ in 0..hangs {
        net.hang(PBX, false);
    }
    net.heal();
}

/// Writes `chunks` with their pauses, closes its side, and reads the other
/// side to its end: what this end received.
async fn converse(io: FaultIo, chunks: Vec<(u64, Vec<u8>)>) -> std::io::Result<Vec<u8>> {
    let (mut rx, mut tx) = tokio::io::split(io);
    let writer = async move {
        for (pause, bytes) in chunks {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            tx.write_all(&bytes).await?;
        }
        tx.shutdown().await
    };
    let reader = async move {
        let mut got = Vec::new();
        rx.read_to_end(&mut got).await.map(|_| got)
    };
    let ((), got) = tokio::try_join!(writer, reader)?;
    Ok(got)
}

/// Runs one exchange on a fresh paused runtime: (what the server received,
/// what the phone received), or `None` if it did not finish within a day
/// of emulated time.
fn exchange(
    changes: Vec<(u64, Change)>,
    from_phone: Vec<(u64, Vec<u8>)>,
    from_pbx: Vec<(u64, Vec<u8>)>,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let net = Net::new(Mode::Sim, Duration::from_secs(4));
        net.set_seed(7);
        let pbx_token = CancellationToken::new();
        let mut incoming = net.bind(PBX, &pbx_token).await.unwrap();
        let phone_token = CancellationToken::new();
        let phone = net.connect(PHONE, &phone_token, PBX).await.unwrap();
        let pbx = incoming.next().await.unwrap().unwrap();
        let faults = tokio::spawn(drive_faults(net.clone(), changes));
        let pbx_side = tokio::spawn(converse(pbx, from_pbx));
        let phone_side = tokio::spawn(converse(phone, from_phone));
        tokio::time::timeout(Duration::from_secs(24 * 3600), async {
            faults.await.unwrap();
            let at_pbx = pbx_side.await.unwrap().expect("the server's side");
            let at_phone = phone_side.await.unwrap().expect("the phone's side");
            (at_pbx, at_phone)
        })
        .await
        .ok()
    })
}

fn concat(chunks: &[(u64, Vec<u8>)]) -> Vec<u8> {
    chunks.iter().flat_map(|(_, b)| b.iter().copied()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn bytes_arrive_intact_and_in_order_both_ways_under_any_undone_fault_schedule(
        changes in fault_schedule(),
        from_phone in writes(),
        from_pbx in writes(),
    ) {
        let (want_at_pbx, want_at_phone) = (concat(&from_phone), concat(&from_pbx));
        let got = exchange(changes, from_phone, from_pbx);
        prop_assert!(got.is_some(), "the exchange never finished after every fault was undone");
        let (at_pbx, at_phone) = got.unwrap();
        prop_assert!(at_pbx == want_at_pbx, "phone to server: {} bytes sent, {} received (or reordered)", want_at_pbx.len(), at_pbx.len());
        prop_assert!(at_phone == want_at_phone, "server to phone: {} bytes sent, {} received (or reordered)", want_at_phone.len(), at_phone.len());
    }
}
