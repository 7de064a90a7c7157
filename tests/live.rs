//! The same failover over real TCP on 127.0.0.1 with a scaled wall clock.

mod common;

use common::*;

/// How much faster than real time these runs go: at 100× the phones' 4 s
/// fast response timeout is 40 ms of wall time, kept on a busy machine
/// (at 300× and more, runs failed under load: no REGISTER answered in time).
const LIVE_SPEED: f64 = 100.0;

#[test]
fn primary_crash_passes_in_live_mode_at_high_speed() {
    let s = load("primary-crash.toml");
    // 30 emulated minutes at 100×: about 18 s of wall time.
    let o = run_live(&s, LIVE_SPEED);
    assert_passed(&o);
    assert_eq!(o.metrics.phones_moved, 16);
}

#[test]
fn partition_heal_and_failback_pass_over_tcp() {
    let s = load("primary-isolated.toml");
    // 50 emulated minutes at 100×: about 30 s of wall time.
    let o = run_live(&s, LIVE_SPEED);
    assert_passed(&o);
    assert_eq!(o.metrics.phones_failed_back, 16);
}

#[test]
fn the_cli_runs_live_mode() {
    let v = fleetsim_json(&[
        "run",
        "expansion-crash",
        "--mode",
        "live",
        "--speed",
        &LIVE_SPEED.to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(v["mode"], "live");
    assert_eq!(v["passed"], true);
}

#[test]
fn a_hang_is_found_out_by_deadlines_over_tcp() {
    let s = load("primary-hang.toml");
    // 45 emulated minutes at 100×: about 27 s of wall time.
    let o = run_live(&s, LIVE_SPEED);
    assert_passed(&o);
    assert_eq!(o.metrics.phones_moved, 16);
}

#[test]
fn a_two_minute_partition_loses_no_peer_over_tcp_as_in_sim() {
    // The 3-minute rule counts from the last presence heard: a 2-minute
    // partition must leave every peer seen again at the first update after
    // the heal, over TCP as in sim, never one left to fail at a stale
    // connect error.
    let s = parse(
        "name = \"p2m\"\nfleet = \"fleets/reference.toml\"\nseed = 3\nduration = \"9m\"\n[[fault]]\nat = \"5m\"\npartition = [[\"primary\"]]\nfor = \"2m\"\n[[expect]]\nnever = { event = \"peer-lost\" }\n",
    );
    assert_passed(&run_sim(&s));
    let o = run_live(&s, LIVE_SPEED);
    assert_passed(&o);
}

mod control {
    //! The live fleet and its control API over real TCP.
    use std::time::Duration;

    use fleetsim_proto::pb;
    use fleetsim_scenario::live::{LiveOptions, serve_control, start_live};
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    /// A block of 400 ports free now, below the kernel's ephemeral range
    /// (a port there may be in use by any outgoing connection).
    fn base_port() -> u16 {
        crate::common::free_ports(400)
    }

    /// A channel to `port`, awaiting the server's readiness: connects are
    /// retried until it listens (10 s at most on a busy machine).
    async fn channel(port: u16) -> tonic::transport::Channel {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .timeout(Duration::from_secs(5));
        for _ in 0..500 {
            if let Ok(c) = endpoint.connect().await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("nothing listens on 127.0.0.1:{port} after 10 s");
    }

    /// The reference fleet live from `base + 1` at the tests' speed, its
    /// control API on `base` (with `token`, if any).
    async fn reference_live(base: u16, token: Option<&str>) {
        let fleet = fleetsim_model::embedded::scenario("primary-crash")
            .unwrap()
            .unwrap()
            .fleet;
        let opts = LiveOptions {
            base_port: base + 1,
            speed: crate::LIVE_SPEED,
            seed: 1,
            calls: fleetsim_model::Calls::default(),
            policy: fleetsim_scenario::RunOptions::default().policy,
        };
        let (handle, servers) = start_live(fleet, &opts).await.unwrap();
        assert_eq!(servers[0].port, base + 1);
        let addr: std::net::SocketAddr = format!("127.0.0.1:{base}").parse().unwrap();
        tokio::spawn(serve_control(handle, addr, token.map(str::to_string)));
    }

    #[test]
    fn a_live_fleet_serves_health_reflection_and_a_token_guarded_control_api() {
        runtime().block_on(async {
            let base = base_port();
            reference_live(base, Some("s3cret")).await;
            tokio::time::sleep(Duration::from_millis(300)).await;

            // Standard tools see every server: health per service, and reflection.
            assert_eq!(health(base + 1, "fleetsim.v1.Telephony").await, SERVING);
            let (names, _) = listed(base + 1).await;
            assert!(names.contains(&"fleetsim.v1.Line".to_string()), "{names:?}");
            assert!(
                names.contains(&"fleetsim.v1.Telephony".to_string()),
                "{names:?}"
            );
            for svc in [
                "fleetsim.v1.Licensing",
                "fleetsim.v1.Voicemail",
                "fleetsim.v1.Portal",
                "fleetsim.v1.MediaManager",
                "fleetsim.v1.Collaboration",
            ] {
                assert!(names.contains(&svc.to_string()), "{svc} not in {names:?}");
            }

            // The control API refuses calls without the token.
            let mut bare = pb::control_client::ControlClient::new(channel(base).await);
            let err = bare.status(pb::StatusRequest {}).await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated);

            let token: tonic::metadata::MetadataValue<_> = "Bearer s3cret".parse().unwrap();
            let mut ctl = pb::control_client::ControlClient::with_interceptor(
                channel(base).await,
                move |mut r: tonic::Request<()>| {
                    r.metadata_mut().insert("authorization", token.clone());
                    Ok(r)
                },
            );
            let s = ctl.status(pb::StatusRequest {}).await.unwrap().into_inner();
            assert_eq!(s.servers.len(), 5);
            assert!(s.servers.iter().all(|v| v.up));

            // Crash the primary; at 100× the secondary takes its phones within seconds.
            let r = ctl
                .fault(pb::FaultRequest {
                    action: "crash = \"primary\"".into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.applied, ["#1 crash primary"]);
            let bad = ctl
                .fault(pb::FaultRequest {
                    action: "crash = \"primary\"".into(),
                })
                .await
                .unwrap_err();
            assert_eq!(bad.code(), tonic::Code::InvalidArgument, "already down");
            // Waited for on the fleet's own clock, 15 emulated minutes, so a
            // busy machine that runs the fleet slower gives it the same time.
            let crashed_at = ctl
                .status(pb::StatusRequest {})
                .await
                .unwrap()
                .into_inner()
                .t_ms;
            let mut guests = 0;
            for _ in 0..600 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let s = ctl.status(pb::StatusRequest {}).await.unwrap().into_inner();
                guests = s
                    .servers
                    .iter()
                    .find(|v| v.name == "secondary")
                    .unwrap()
                    .guests;
                if guests == 16 || s.t_ms > crashed_at + 15 * 60_000 {
                    break;
                }
            }
            assert_eq!(
                guests, 16,
                "the secondary did not take over the primary's IP phones"
            );

            // The operator's "activate backup" over the control API; the
            // status shows the services and licences where they stand.
            let r = ctl
                .fault(pb::FaultRequest {
                    action: "activate-backup = \"voicemail-pro\"".into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.sent, ["operator activates the backup voicemail-pro"]);
            assert!(r.applied.is_empty(), "{:?}", r.applied);
            let s = ctl.status(pb::StatusRequest {}).await.unwrap().into_inner();
            let sec = s.servers.iter().find(|v| v.name == "secondary").unwrap();
            assert!(
                sec.active.contains(&"voicemail-pro".to_string()),
                "{:?}",
                sec.active
            );
            assert!(
                sec.active.contains(&"hunt-group sales".to_string()),
                "{:?}",
                sec.active
            );
            // Licences renew every 5 emulated minutes (2.5 s here).
            let mut licence = sec.licence.clone();
            for _ in 0..40 {
                if licence == "grace" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
                let s = ctl.status(pb::StatusRequest {}).await.unwrap().into_inner();
                let sec = s.servers.iter().find(|v| v.name == "secondary").unwrap();
                licence = sec.licence.clone();
            }
            assert_eq!(licence, "grace");
        });
    }

    /// A live fleet of one primary with one phone, for control API tests.
    async fn small_fleet(base: u16) -> fleetsim_scenario::live::LiveHandle {
        let text = "[[server]]\nname = \"primary\"\nrole = \"primary\"\nphones = { sip = 1 }\n";
        let fleet = fleetsim_model::Fleet::from_toml(&fleetsim_model::Source {
            name: "small.toml",
            text,
        })
        .unwrap();
        let opts = LiveOptions {
            base_port: base + 1,
            speed: 60.0,
            seed: 1,
            calls: fleetsim_model::Calls::default(),
            policy: fleetsim_scenario::RunOptions::default().policy,
        };
        start_live(fleet, &opts).await.unwrap().0
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// A control client sending `authorization: Bearer <token>`.
    async fn client_with_token(
        port: u16,
        token: &str,
    ) -> pb::control_client::ControlClient<
        tonic::service::interceptor::InterceptedService<
            tonic::transport::Channel,
            impl tonic::service::Interceptor,
        >,
    > {
        let value: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
        pb::control_client::ControlClient::with_interceptor(
            channel(port).await,
            move |mut r: tonic::Request<()>| {
                r.metadata_mut().insert("authorization", value.clone());
                Ok(r)
            },
        )
    }

    #[test]
    fn a_blank_token_is_refused_by_the_control_api() {
        runtime().block_on(async {
            for (i, blank) in ["", " ", "\t "].into_iter().enumerate() {
                let base = base_port() + 100 + 10 * i as u16;
                let addr: std::net::SocketAddr = format!("127.0.0.1:{base}").parse().unwrap();
                let handle = small_fleet(base).await;
                let served = tokio::time::timeout(
                    Duration::from_secs(2),
                    serve_control(handle, addr, Some(blank.into())),
                )
                .await
                .expect("a blank token must be refused, not served");
                assert!(served.unwrap_err().contains("blank"), "{blank:?}");
            }
        });
    }

    const SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;

    /// What `grpc.health.v1` on `port` says of `service`.
    async fn health(port: u16, service: &str) -> i32 {
        HealthClient::new(channel(port).await)
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status
    }

    /// The services `port` lists under reflection v1 and under v1alpha.
    async fn listed(port: u16) -> (Vec<String>, Vec<String>) {
        use tonic_reflection::pb::v1alpha as alpha;
        let req = tonic_reflection::pb::v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(channel(port).await)
            .server_reflection_info(tokio_stream::iter(vec![req]))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(v1)) =
            stream.message().await.unwrap().unwrap().message_response
        else {
            panic!("no v1 service list")
        };
        let req = alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
        };
        let mut stream =
            alpha::server_reflection_client::ServerReflectionClient::new(channel(port).await)
                .server_reflection_info(tokio_stream::iter(vec![req]))
                .await
                .unwrap()
                .into_inner();
        let Some(alpha::server_reflection_response::MessageResponse::ListServicesResponse(a)) =
            stream.message().await.unwrap().unwrap().message_response
        else {
            panic!("no v1alpha service list")
        };
        let names = |v: Vec<String>| {
            let mut v = v;
            v.retain(|n| !n.starts_with("grpc.reflection."));
            v.sort();
            v
        };
        (
            names(v1.service.into_iter().map(|s| s.name).collect()),
            names(a.service.into_iter().map(|s| s.name).collect()),
        )
    }

    #[test]
    fn each_port_lists_under_both_reflection_versions_only_the_services_its_member_runs() {
        runtime().block_on(async {
            let base = base_port() + 150;
            let fleet = fleetsim_model::embedded::scenario("primary-crash")
                .unwrap()
                .unwrap()
                .fleet;
            let opts = LiveOptions {
                base_port: base,
                speed: 60.0,
                seed: 1,
                calls: fleetsim_model::Calls::default(),
                policy: fleetsim_scenario::RunOptions::default().policy,
            };
            let (_handle, servers) = start_live(fleet, &opts).await.unwrap();
            let port = |name: &str| servers.iter().find(|s| s.name == name).unwrap().port;
            let (v1, v1alpha) = listed(port("apps")).await;
            assert_eq!(
                v1,
                [
                    "fleetsim.v1.Line",
                    "fleetsim.v1.Portal",
                    "grpc.health.v1.Health"
                ]
            );
            assert_eq!(v1alpha, v1);
            let (secondary, _) = listed(port("secondary")).await;
            assert!(!secondary.contains(&"fleetsim.v1.Licensing".to_string()));
            assert!(secondary.contains(&"fleetsim.v1.Voicemail".to_string()));
            let (primary, _) = listed(port("primary")).await;
            assert!(primary.contains(&"fleetsim.v1.Licensing".to_string()));
        });
    }

    #[test]
    fn the_control_port_answers_health_without_the_token_and_lists_itself() {
        runtime().block_on(async {
            let base = base_port() + 250;
            let handle = small_fleet(base).await;
            let addr: std::net::SocketAddr = format!("127.0.0.1:{base}").parse().unwrap();
            tokio::spawn(serve_control(handle, addr, None));
            assert_eq!(health(base, "fleetsim.v1.Control").await, SERVING);
            let (v1, v1alpha) = listed(base).await;
            assert_eq!(v1, ["fleetsim.v1.Control", "grpc.health.v1.Health"]);
            assert_eq!(v1alpha, v1);
        });
    }

    #[test]
    fn watch_shows_the_drill_screen_and_ends_cleanly_when_the_fleet_goes_away() {
        use std::io::{BufRead, BufReader};
        let base = base_port() + 350;
        // The fleet in a thread of its own, so it can go away mid-watch.
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let fleet = std::thread::spawn(move || {
            runtime().block_on(async {
                let handle = small_fleet(base).await;
                let addr: std::net::SocketAddr = format!("127.0.0.1:{base}").parse().unwrap();
                tokio::spawn(serve_control(handle, addr, None));
                channel(base).await;
                ready_tx.send(()).unwrap();
                tokio::task::spawn_blocking(move || stop_rx.recv())
                    .await
                    .ok();
            });
        });
        ready_rx.recv().unwrap();
        let mut watch = crate::common::fleetsim()
            .args(["watch", "--control", &format!("127.0.0.1:{base}")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(watch.stdout.take().unwrap());
        let mut screen = String::new();
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            screen.push_str(&line);
            line.clear();
            if screen.contains("milestones") {
                break;
            }
        }
        if screen.is_empty() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut watch.stderr.take().unwrap(), &mut err).unwrap();
            panic!("watch printed nothing; stderr: {err}");
        }
        assert!(screen.starts_with("fleet "), "{screen}");
        assert!(screen.contains("registered"), "{screen}");
        // Joined after the start, it still tells the drill from its beginning.
        let mut screens = 1;
        while !screen.contains("starts as primary") && screens < 4 {
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
            screens += usize::from(line.starts_with("fleet "));
            screen.push_str(&line);
            line.clear();
        }
        assert!(screen.contains("starts as primary"), "{screen}");
        stop_tx.send(()).unwrap();
        fleet.join().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        let status = watch.wait().unwrap();
        assert!(rest.contains("has gone away"), "{rest}");
        assert!(!rest.contains("transport error"), "{rest}");
        assert_eq!(status.code(), Some(0));
    }

    #[test]
    fn reflection_on_a_token_guarded_control_port_needs_the_token() {
        runtime().block_on(async {
            let base = base_port() + 200;
            let handle = small_fleet(base).await;
            let addr: std::net::SocketAddr = format!("127.0.0.1:{base}").parse().unwrap();
            tokio::spawn(serve_control(handle, addr, Some("s3cret".into())));
            tokio::time::sleep(Duration::from_millis(300)).await;
            let list = || tonic_reflection::pb::v1::ServerReflectionRequest {
                host: String::new(),
                message_request: Some(MessageRequest::ListServices(String::new())),
            };
            let bare = ServerReflectionClient::new(channel(base).await)
                .server_reflection_info(tokio_stream::iter(vec![list()]))
                .await;
            assert_eq!(bare.unwrap_err().code(), tonic::Code::Unauthenticated);
            // Probes send no token: health answers all the same.
            let health = HealthClient::new(channel(base).await)
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            assert!(health.is_ok(), "{health:?}");
            let empty = client_with_token(base, "")
                .await
                .status(pb::StatusRequest {})
                .await;
            assert_eq!(empty.unwrap_err().code(), tonic::Code::Unauthenticated);
            let token: tonic::metadata::MetadataValue<_> = "Bearer s3cret".parse().unwrap();
            let mut with = ServerReflectionClient::with_interceptor(
                channel(base).await,
                move |mut r: tonic::Request<()>| {
                    r.metadata_mut().insert("authorization", token.clone());
                    Ok(r)
                },
            );
            let mut stream = with
                .server_reflection_info(tokio_stream::iter(vec![list()]))
                .await
                .unwrap()
                .into_inner();
            assert!(stream.message().await.unwrap().is_some());
        });
    }

    #[test]
    fn no_fault_action_stops_the_fleet_and_errors_fit_in_grpc_message() {
        runtime().block_on(async {
            let base = base_port() + 300;
            let handle = small_fleet(base).await;
            let addr: std::net::SocketAddr = format!("127.0.0.1:{base}").parse().unwrap();
            tokio::spawn(serve_control(handle, addr, None));
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut ctl = pb::control_client::ControlClient::new(channel(base).await);
            let actions = [
                format!("{}crash = 1", " ".repeat(70_000)),
                format!("crash = \"{}\"", "a".repeat(40_000)),
                "x".repeat(100_000),
            ];
            for action in actions {
                let err = ctl.fault(pb::FaultRequest { action }).await.unwrap_err();
                assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
                assert!(err.message().len() <= 2048, "{}", err.message().len());
            }
            let s = ctl.status(pb::StatusRequest {}).await.unwrap().into_inner();
            assert_eq!(s.servers.len(), 1, "the fleet still answers");
        });
    }

    #[test]
    fn faults_in_force_have_stable_ids_clear_undoes_them_and_heal_clears_only_link_faults() {
        runtime().block_on(async {
            let base = base_port() + 50;
            let handle = small_fleet(base).await;
            let addr: std::net::SocketAddr = format!("127.0.0.1:{base}").parse().unwrap();
            tokio::spawn(serve_control(handle, addr, None));
            let mut ctl = pb::control_client::ControlClient::new(channel(base).await);
            for action in [
                "latency = { target = \"primary\", delay = \"300ms\", jitter = \"50ms\" }\nfor = \"2m\"",
                "partition = [[\"primary\"]]",
                "crash = \"primary\"",
                "activate-backup = \"voicemail-pro\"",
            ] {
                let action = action.to_string();
                ctl.fault(pb::FaultRequest { action }).await.unwrap();
            }
            let r = ctl.faults(pb::FaultsRequest {}).await.unwrap().into_inner();
            let listed: Vec<(u32, &str, bool)> = r
                .faults
                .iter()
                .map(|f| (f.id, f.what.as_str(), f.link))
                .collect();
            assert_eq!(
                listed,
                [
                    (1, "latency 300ms ± 50ms on primary", true),
                    (2, "partition [primary] | rest", true),
                    (3, "crash primary", false),
                ],
                "an operator action is not a fault in force"
            );
            assert_eq!(r.faults[0].until_ms, r.faults[0].since_ms + 120_000);
            assert_eq!(r.faults[2].until_ms, 0, "a crash without `for` lasts");

            // A new latency on the same node replaces the old one, and the
            // old one's `for` no longer ends it.
            let action = "latency = { target = \"primary\", delay = \"100ms\" }".to_string();
            ctl.fault(pb::FaultRequest { action }).await.unwrap();
            let r = ctl.faults(pb::FaultsRequest {}).await.unwrap().into_inner();
            let latency = r.faults.iter().find(|f| f.what.contains("latency")).unwrap();
            assert_eq!((latency.id, latency.until_ms), (4, 0));

            let heal = ctl
                .clear(pb::ClearRequest { which: "links".into() })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(heal.cleared.len(), 2, "{:?}", heal.cleared);
            assert!(heal.cleared.iter().any(|c| c.starts_with("#4 latency")));
            assert!(heal.cleared.iter().any(|c| c.starts_with("#2 partition")));
            let left: Vec<&str> = heal.left.iter().map(|f| f.what.as_str()).collect();
            assert_eq!(left, ["crash primary"]);

            ctl.clear(pb::ClearRequest { which: "#3".into() })
                .await
                .unwrap();
            let s = ctl.status(pb::StatusRequest {}).await.unwrap().into_inner();
            assert!(s.servers[0].up, "clearing a crash restarts the server");
            assert!(s.faults.is_empty(), "{:?}", s.faults);
            let again = ctl
                .clear(pb::ClearRequest { which: "3".into() })
                .await
                .unwrap_err();
            assert_eq!(again.code(), tonic::Code::InvalidArgument);
            assert!(again.message().contains("no fault #3"), "{}", again.message());
        });
    }

    #[test]
    fn a_hung_servers_phones_show_where_they_went_and_its_timers_stop() {
        // A hung server still holds in memory the phones that left it:
        // the status says where they are now, as the log tells it.
        runtime().block_on(async {
            let base = base_port();
            reference_live(base, None).await;
            let mut ctl = pb::control_client::ControlClient::new(channel(base).await);
            // Two emulated minutes first: expansion-l has replicated its
            // records to the secondary (without them, nothing fails over).
            while ctl
                .status(pb::StatusRequest {})
                .await
                .unwrap()
                .into_inner()
                .t_ms
                < 120_000
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            ctl.fault(pb::FaultRequest {
                action: "hang = \"expansion-l\"".into(),
            })
            .await
            .unwrap();
            let hung_at = ctl
                .status(pb::StatusRequest {})
                .await
                .unwrap()
                .into_inner()
                .t_ms;
            let mut s = ctl.status(pb::StatusRequest {}).await.unwrap().into_inner();
            for _ in 0..600 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                s = ctl.status(pb::StatusRequest {}).await.unwrap().into_inner();
                let moved = (s.phones.iter())
                    .filter(|p| p.home == "expansion-l" && p.server == "secondary")
                    .count();
                if moved == 8 || s.t_ms > hung_at + 15 * 60_000 {
                    break;
                }
            }
            let on = |name: &str| s.servers.iter().find(|v| v.name == name).unwrap().clone();
            let moved: Vec<&str> = (s.phones.iter())
                .filter(|p| p.home == "expansion-l" && p.server == "secondary" && p.guest)
                .map(|p| p.extension.as_str())
                .collect();
            assert_eq!(moved.len(), 8, "{:?}", s.phones);
            assert_eq!(
                on("expansion-l").registered,
                0,
                "it holds them only in memory"
            );
            assert!(
                on("expansion-l").peers.is_empty(),
                "{:?}",
                on("expansion-l").peers
            );
            assert!(on("secondary").guests >= 8);
            // Nor does it answer a client outside the fleet (grpcurl,
            // `fleetsim conform`): its health check goes unanswered.
            let port = base + 1 + 2;
            let probe = async {
                let c = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                    .unwrap()
                    .connect()
                    .await?;
                HealthClient::new(c)
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    .map_err(Into::into)
            };
            let answered: Result<Result<_, Box<dyn std::error::Error>>, _> =
                tokio::time::timeout(Duration::from_secs(2), probe).await;
            assert!(
                !matches!(answered, Ok(Ok(_))),
                "a hung server answered: {answered:?}"
            );
            ctl.clear(pb::ClearRequest {
                which: "all".into(),
            })
            .await
            .unwrap();
            assert_eq!(health(port, "fleetsim.v1.Telephony").await, SERVING);
        });
    }
}
