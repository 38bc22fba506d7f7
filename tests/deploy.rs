//! The Kubernetes example (deploy/kubernetes) fits together: the policy in
//! the ConfigMap passes `pgward check`, the config loads, and the probes,
//! mounts, secrets and ports point where the config says. (CI also checks
//! every manifest against the Kubernetes API schemas.)

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/kubernetes");

fn manifest(name: &str) -> Value {
    let path = Path::new(DIR).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn s<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

#[test]
fn the_sidecar_example_is_consistent() {
    let cm = manifest("configmap.yaml");
    let secret = manifest("secret.yaml");
    let deploy = manifest("deployment.yaml");
    let pvc = manifest("pvc.yaml");
    let svc = manifest("service.yaml");

    let config_text = s(&cm["data"]["pgward.yaml"], "pgward.yaml");
    let policy_text = s(&cm["data"]["policy.yaml"], "policy.yaml");
    let config: Value = serde_saphyr::from_str(config_text).expect("pgward.yaml parses");

    let pod = &deploy["spec"]["template"]["spec"];
    let pgward = find(&pod["initContainers"], "pgward");
    assert_eq!(pgward["restartPolicy"], "Always", "a native sidecar");
    let volumes = &pod["volumes"];
    let mount = |name: &str| s(&find(&pgward["volumeMounts"], name)["mountPath"], name).to_owned();

    // The config file the container is started with is the ConfigMap's.
    let args: Vec<&str> = pgward["args"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        args,
        [
            "serve",
            "--config",
            &format!("{}/pgward.yaml", mount("pgward-config"))
        ]
    );
    assert_eq!(
        find(volumes, "pgward-config")["configMap"]["name"],
        cm["metadata"]["name"]
    );

    // Probes on the admin listener.
    let admin_port: u16 = s(&config["admin"]["listen"], "admin.listen")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("admin port");
    let port = find(&pgward["ports"], "pgward-admin");
    assert_eq!(port["containerPort"], admin_port);
    assert_eq!(pgward["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(pgward["livenessProbe"]["httpGet"]["path"], "/healthz");
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        assert_eq!(pgward[probe]["httpGet"]["port"], "pgward-admin", "{probe}");
    }

    // The audit spool is on the claim.
    assert_eq!(config["audit"]["spool_dir"], mount("pgward-audit").as_str());
    assert_eq!(
        find(volumes, "pgward-audit")["persistentVolumeClaim"]["claimName"],
        pvc["metadata"]["name"]
    );

    // Secrets: every file the config and policy read is a key of the Secret.
    let secrets_dir = mount("pgward-secrets");
    assert_eq!(
        find(volumes, "pgward-secrets")["secret"]["secretName"],
        secret["metadata"]["name"]
    );
    let policy: Value = serde_saphyr::from_str(policy_text).expect("policy parses");
    for file in [
        s(&config["catalog"]["password_file"], "catalog.password_file"),
        s(&policy["masking"]["hash_key_file"], "masking.hash_key_file"),
    ] {
        let key = file
            .strip_prefix(&format!("{secrets_dir}/"))
            .unwrap_or_else(|| panic!("{file} is not under {secrets_dir}"));
        assert!(secret["stringData"][key].is_string(), "Secret lacks {key}");
    }

    // Backstage connects to the sidecar's listener.
    let backstage = find(&pod["containers"], "backstage");
    let env = &backstage["env"];
    let listen = format!(
        "{}:{}",
        s(&find(env, "POSTGRES_HOST")["value"], "host"),
        s(&find(env, "POSTGRES_PORT")["value"], "port")
    );
    assert_eq!(config["listen"], listen.as_str());
    // The Service's ports name ports the pod has.
    for p in svc["spec"]["ports"].as_array().expect("ports") {
        let target = s(&p["targetPort"], "targetPort");
        let has = [pgward, backstage].iter().any(|c| {
            c["ports"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["name"] == target))
        });
        assert!(has, "no container port {target}");
    }

    // The policy passes `pgward check` (its key file from the Secret) and the config loads.
    let dir = tempfile::tempdir().expect("tempdir");
    let key_path = dir.path().join("mask-hash-key");
    std::fs::write(&key_path, s(&secret["stringData"]["mask-hash-key"], "key")).expect("key");
    let policy_path = dir.path().join("policy.yaml");
    std::fs::write(
        &policy_path,
        policy_text.replace(
            s(&policy["masking"]["hash_key_file"], "hash_key_file"),
            &key_path.display().to_string(),
        ),
    )
    .expect("policy");
    let out = Command::new(env!("CARGO_BIN_EXE_pgward"))
        .arg("check")
        .arg(&policy_path)
        .output()
        .expect("pgward check");
    assert!(
        out.status.success(),
        "pgward check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let config_path = dir.path().join("pgward.yaml");
    std::fs::write(&config_path, config_text).expect("config");
    let args = pgward::cli::ServeArgs {
        config: Some(config_path),
        ..Default::default()
    };
    let loaded = pgward::config::Config::load(&args).expect("the config loads");
    assert!(loaded.admin.is_some() && loaded.audit.is_some());
}
