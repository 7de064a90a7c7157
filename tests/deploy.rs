//! The Kubernetes manifests under deploy/ hold together without a cluster:
//! they validate against the Kubernetes schemas (kubernetes-validate, from
//! deploy/requirements.txt; skipped, with a message, where it is missing),
//! the live fleet's ConfigMap is a fleet whose servers are the StatefulSet's
//! pods at their DNS names, and the sweep Job's shell command, run here as
//! each completion index would run it, merges to the unsharded summary.

mod common;

use std::path::PathBuf;

use common::*;

/// A manifest under deploy/, as text.
fn manifest(name: &str) -> String {
    let path = root().join("deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `*.yaml` under deploy/, sorted.
fn manifests() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("deploy"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    v.sort();
    v
}

// The manifests are ours and plainly laid out, so these few readers of
// their YAML stand in for a YAML parser the workspace does not otherwise need.

/// The literal block scalar (`KEY: |` or `- |`) whose header line, trimmed,
/// is `header`: the lines indented deeper than the header, de-indented.
fn block(yaml: &str, header: &str) -> String {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != header);
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("no `{header}` block"));
    let depth = |l: &str| l.len() - l.trim_start().len();
    let body: Vec<&str> = lines
        .take_while(|l| l.trim().is_empty() || depth(l) > depth(head))
        .collect();
    let indent = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| depth(l))
        .min()
        .unwrap_or(0);
    let text: Vec<&str> = body.iter().map(|l| l.get(indent..).unwrap_or("")).collect();
    text.join("\n").trim_end().to_string() + "\n"
}

/// The value of the first `key: value` line, unquoted.
fn field(yaml: &str, key: &str) -> String {
    let prefix = format!("{key}: ");
    yaml.lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no `{key}:` field"))
        .trim_matches('"')
        .to_string()
}

/// The items of the first list under the line `header` (e.g. `args:`).
fn items(yaml: &str, header: &str) -> Vec<String> {
    yaml.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .map_while(|l| l.trim().strip_prefix("- "))
        .map(|i| i.trim_matches('"').to_string())
        .collect()
}

/// The value of the container environment variable `name`.
fn env_value(yaml: &str, name: &str) -> String {
    let entry = format!("- name: {name}");
    let after: String = yaml
        .lines()
        .skip_while(|l| l.trim() != entry)
        .skip(1)
        .take(1)
        .collect();
    after
        .trim()
        .strip_prefix("value: ")
        .unwrap_or_else(|| panic!("no value for the environment variable {name}"))
        .trim_matches('"')
        .to_string()
}

#[test]
fn every_manifest_under_deploy_validates_against_the_kubernetes_schemas() {
    let files = manifests();
    let names: Vec<String> = (files.iter())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "drill.yaml",
            "live-fleet.yaml",
            "sweep-job.yaml",
            "sweep-merge.yaml"
        ],
        "the manifests this test and the README know"
    );
    let tool = std::process::Command::new("python3")
        .args(["-m", "kubernetes_validate", "--version"])
        .output();
    if !tool.is_ok_and(|o| o.status.success()) {
        eprintln!(
            "skipped every_manifest_under_deploy_validates_against_the_kubernetes_schemas: \
             python3 has no kubernetes_validate; install it with \
             `python3 -m pip install -r deploy/requirements.txt`"
        );
        return;
    }
    let out = std::process::Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict"])
        .args(&files)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // Passing must mean checked: every resource is named as passed.
    for resource in [
        "namespace/fleetsim",
        "configmap/fleet",
        "service/fleet",
        "statefulset/fleet",
        "pod/drill",
        "persistentvolumeclaim/sweep-parts",
        "job/sweep ",
        "job/sweep-merge",
    ] {
        assert!(
            said.contains(&format!("passed for resource {resource}")),
            "{resource} was not validated:\n{said}"
        );
    }
}

#[test]
fn the_live_fleet_configmap_is_a_fleet_of_the_statefulset_pods_at_their_dns_names() {
    let yaml = manifest("live-fleet.yaml");
    let dir = temp_dir("deploy-fleet");
    let fleet_file = write(&dir, "fleet.toml", &block(&yaml, "fleet.toml: |"));

    let out = fleetsim_out(&["check", fleet_file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "fleetsim check refused the ConfigMap's fleet:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // Each pod runs `node FLEET --server $(POD_NAME) --listen 0.0.0.0:PORT`.
    let args = items(&yaml, "args:");
    assert_eq!(
        args,
        [
            "node",
            "/etc/fleetsim/fleet.toml",
            "--server",
            "$(POD_NAME)",
            "--listen",
            "0.0.0.0:7101",
            "--speed",
            "60"
        ]
    );
    assert_eq!(field(&yaml, "mountPath"), "/etc/fleetsim");
    assert_eq!(field(&yaml, "fieldPath"), "metadata.name");
    assert_eq!(field(&yaml, "containerPort"), "7101");

    // So the servers must be the pods, NAME-0 … NAME-(replicas-1), each at
    // POD.SERVICE.NAMESPACE.svc.cluster.local on the port the pods listen on.
    let text = std::fs::read_to_string(&fleet_file).unwrap();
    let fleet = fleetsim_model::Fleet::from_toml(&fleetsim_model::Source {
        name: "fleet.toml",
        text: &text,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let statefulset = yaml
        .split("\n---\n")
        .find(|doc| doc.contains("kind: StatefulSet"))
        .expect("a StatefulSet");
    let (name, service, namespace) = (
        field(statefulset, "name"),
        field(statefulset, "serviceName"),
        field(statefulset, "namespace"),
    );
    let replicas: usize = field(statefulset, "replicas").parse().unwrap();
    let expected: Vec<(String, String)> = (0..replicas)
        .map(|i| {
            let pod = format!("{name}-{i}");
            let address = format!("{pod}.{service}.{namespace}.svc.cluster.local:7101");
            (pod, address)
        })
        .collect();
    let actual: Vec<(String, String)> = (fleet.servers.iter())
        .map(|s| (s.name.clone(), s.address.clone().unwrap_or_default()))
        .collect();
    assert_eq!(actual, expected);
    // And each pod's member control port, where the drill attaches.
    let controls: Vec<String> = (fleet.servers.iter())
        .map(|s| s.control.clone().unwrap_or_default())
        .collect();
    let expected: Vec<String> = (expected.iter())
        .map(|(_, a)| a.replace(":7101", ":7102"))
        .collect();
    assert_eq!(controls, expected);
    assert!(statefulset.contains("containerPort: 7102"));
}

#[test]
fn the_drill_pod_runs_up_on_the_fleets_configmap_at_the_nodes_speed_with_their_token() {
    let fleet = manifest("live-fleet.yaml");
    let drill = manifest("drill.yaml");
    let args = items(&drill, "args:");
    assert_eq!(args[..2], ["up", "/etc/fleetsim/fleet.toml"]);
    let after = |flag: &str, args: &[String]| {
        let i = args
            .iter()
            .position(|a| a == flag)
            .unwrap_or_else(|| panic!("no {flag}"));
        args[i + 1].clone()
    };
    let nodes = items(&fleet, "args:");
    assert_eq!(
        after("--speed", &args),
        after("--speed", &nodes),
        "one speed"
    );
    // Its control API binds beyond loopback (the kubelet probes the pod's
    // address), which fleetsim allows only with a token: the nodes' own.
    assert_eq!(after("--control", &args), "0.0.0.0:7100");
    for yaml in [&fleet, &drill] {
        let token = yaml
            .split("- name: FLEETSIM_TOKEN")
            .nth(1)
            .expect("FLEETSIM_TOKEN from a Secret");
        assert_eq!(field(token, "name"), "fleet-token");
        assert_eq!(field(token, "key"), "token");
    }
    assert_eq!(field(&drill, "name"), "drill");
    let volume = drill
        .split("configMap:")
        .nth(1)
        .expect("the fleet's ConfigMap as a volume");
    assert_eq!(field(volume, "name"), "fleet", "the nodes' ConfigMap");
}

#[test]
fn the_sweep_job_run_at_every_completion_index_merges_to_the_unsharded_summary() {
    let job = manifest("sweep-job.yaml");
    let merge = manifest("sweep-merge.yaml");
    let shards: usize = env_value(&job, "SHARDS").parse().unwrap();
    assert_eq!(
        field(&job, "completions"),
        shards.to_string(),
        "one completion index per shard"
    );
    assert_eq!(field(&job, "completionMode"), "Indexed");
    assert_eq!(
        env_value(&job, "PARTS"),
        env_value(&merge, "PARTS"),
        "the merge reads where the shards write"
    );

    // The Job's own command, with the seeds cut to one per shard and the
    // shared volume a temporary directory.
    let scenario = env_value(&job, "SCENARIO");
    let seeds = shards.to_string();
    let dir = temp_dir("deploy-sweep");
    let parts = dir.to_str().unwrap();
    let shard_script = block(&job, "- |");
    for index in 0..shards {
        let index = index.to_string();
        let out = sh_with_fleetsim(
            &shard_script,
            &[
                ("SCENARIO", &scenario),
                ("SEEDS", &seeds),
                ("SHARDS", &shards.to_string()),
                ("PARTS", parts),
                ("JOB_COMPLETION_INDEX", &index),
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "completion index {index}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let written: Vec<String> = (1..=shards)
        .map(|k| format!("part-{k}.json"))
        .filter(|p| dir.join(p).exists())
        .collect();
    assert_eq!(
        written.len(),
        shards,
        "part files named by shard: {written:?}"
    );

    let merged = sh_with_fleetsim(&block(&merge, "- |"), &[("PARTS", parts)]);
    let whole = fleetsim_out(&["sweep", &scenario, "--seeds", &seeds]);
    assert_eq!(
        String::from_utf8_lossy(&merged.stdout),
        String::from_utf8_lossy(&whole.stdout),
        "merge said: {}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert_eq!(merged.status.code(), whole.status.code());
    assert!(
        String::from_utf8_lossy(&whole.stdout).contains(&scenario),
        "the summary names the scenario"
    );
}
