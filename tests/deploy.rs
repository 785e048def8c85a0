//! deploy/: the systemd unit, the container image, the Kubernetes manifests
//! and the AWS policies. No running systemd, Docker engine, cluster or AWS
//! account is needed: the unit goes through an INI check and through
//! `systemd-analyze verify` (Debian package `systemd`; missing is a failure
//! with an install hint, never a skip), the Dockerfile and the
//! manifests are parsed and checked statically, the container's HEALTHCHECK
//! script runs against the real daemon, and every config embedded in a
//! manifest goes through the real binary's `check --offline`.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let p = root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn check_offline(config: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = support::bin();
    cmd.args(["check", "--offline", "--config"]).arg(config);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ------------------------------------------------------------------ systemd

const UNIT: &str = "deploy/systemd/livepeer-signer.service";

/// A minimal systemd INI parser: section → key → values (keys may repeat;
/// comments and blank lines skipped; `\` continuations joined).
fn parse_unit(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut section = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        let full = format!("{pending}{line}");
        pending.clear();
        if full.starts_with('[') && full.ends_with(']') {
            section = full[1..full.len() - 1].to_string();
            continue;
        }
        let (k, v) = full
            .split_once('=')
            .unwrap_or_else(|| panic!("{UNIT}: not key=value: {full:?}"));
        assert!(!section.is_empty(), "{UNIT}: {k} outside a section");
        out.entry(section.clone())
            .or_default()
            .entry(k.trim().to_string())
            .or_default()
            .push(v.trim().to_string());
    }
    out
}

#[test]
fn systemd_unit_has_the_hardening_keys() {
    let unit = parse_unit(&read(UNIT));
    let service = unit.get("Service").expect("[Service]");
    let one = |k: &str| -> &str {
        let v = service
            .get(k)
            .unwrap_or_else(|| panic!("{UNIT}: [Service] {k}= missing"));
        assert_eq!(v.len(), 1, "{UNIT}: {k}= set {} times", v.len());
        &v[0]
    };
    for (k, want) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Restart", "on-failure"),
        ("StateDirectory", "livepeer-signer"),
        ("ConfigurationDirectory", "livepeer-signer"),
    ] {
        assert_eq!(one(k), want, "{UNIT}: {k}=");
    }
    // A dedicated, unprivileged identity.
    let user = service.get("User").map(|v| v[0].as_str());
    let dynamic = service.get("DynamicUser").map(|v| v[0].as_str());
    assert!(
        dynamic == Some("yes") || user.is_some_and(|u| !u.is_empty() && u != "root" && u != "0"),
        "{UNIT}: needs DynamicUser=yes or a non-root User= (got {user:?})"
    );
    assert!(one("ExecStart").contains("livepeer-signer serve --config /etc/livepeer-signer/"));
    // Secrets come in as credentials and the config is pointed at %d.
    let creds = service.get("LoadCredential").expect("LoadCredential=");
    assert!(
        creds.iter().any(|c| c.starts_with("keystore-password:/")),
        "{creds:?}"
    );
    let envs = service.get("Environment").expect("Environment=");
    assert!(
        envs.iter()
            .any(|e| e == "LIVEPEER_SIGNER__KEY__KEYSTORE__PASSWORD_FILE=%d/keystore-password"),
        "{envs:?}"
    );
    // Exit code 2 is a config error: no restart loop.
    assert_eq!(one("RestartPreventExitStatus"), "2");
    assert!(unit
        .get("Install")
        .and_then(|s| s.get("WantedBy"))
        .is_some_and(|w| w[0] == "multi-user.target"));
    // The PKCS#11 caveat is documented next to the setting.
    let text = read(UNIT);
    assert!(text.contains("PKCS#11") && text.contains("MemoryDenyWriteExecute=no"));
    eprintln!("systemd unit: INI checks passed");
}

/// The unit's `Environment=LIVEPEER_SIGNER__…=%d/…` names a real config key:
/// the production example without `password_file` validates only with it.
#[test]
fn systemd_credential_override_is_a_real_config_key() {
    let unit = parse_unit(&read(UNIT));
    let env = unit["Service"]["Environment"]
        .iter()
        .find(|e| e.starts_with("LIVEPEER_SIGNER__"))
        .expect("an override")
        .clone();
    let (key, value) = env.split_once('=').unwrap();
    let value = value.replace("%d", "/run/credentials/livepeer-signer.service");

    let tmp = tempfile::tempdir().unwrap();
    let text = read("config/production-tls-auth.example.toml");
    let without: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("password_file"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(text, without);
    let cfg = tmp.path().join("c.toml");
    // check --offline reads the token and TLS files: make them real.
    let without = support::config_files::materialize(&without, &tmp.path().join("root"));
    std::fs::write(&cfg, without).unwrap();

    let (code, _, err) = check_offline(&cfg, &[]);
    assert_eq!(
        code, 2,
        "without the override the password source is missing: {err}"
    );
    assert!(err.contains("password_file"), "{err}");
    let (code, out, err) = check_offline(&cfg, &[(key, &value)]);
    assert_eq!(code, 0, "{key}={value}: {err}");
    assert!(out.starts_with("config ok: "), "{out}");
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// `systemd-analyze`, or a failure with the install hint (never a skip:
/// without it the unit would only get the INI checks).
fn systemd_analyze() -> PathBuf {
    find_in_path("systemd-analyze").unwrap_or_else(|| {
        panic!(
            "systemd-analyze not found in PATH: the systemd unit tests need it \
             (`sudo apt-get install -y systemd`, or run scripts/test.sh, which installs it)"
        )
    })
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let analyze = systemd_analyze();
    // verify checks that ExecStart= is executable: point it at the binary
    // under test (the only change), keep the unit's file name.
    let tmp = tempfile::tempdir().unwrap();
    let text = read(UNIT);
    let exe = env!("CARGO_BIN_EXE_livepeer-signer");
    assert!(text.contains("ExecStart=/usr/local/bin/livepeer-signer "));
    let patched = text.replace(
        "ExecStart=/usr/local/bin/livepeer-signer ",
        &format!("ExecStart={exe} "),
    );
    let unit = tmp.path().join("livepeer-signer.service");
    std::fs::write(&unit, patched).unwrap();
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&unit)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stdout}{stderr}"
    );
    // verify only warns (exit 0) about unknown keys or bad values: any
    // output at all is a finding.
    assert!(
        stdout.trim().is_empty() && stderr.trim().is_empty(),
        "systemd-analyze verify reported:\n{stdout}{stderr}"
    );
    let version = Command::new(&analyze)
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    eprintln!("systemd-analyze verify ran ({version}) and reported nothing");
}

/// The verify step above is only meaningful if it notices mistakes.
#[test]
fn systemd_analyze_verify_notices_a_misspelt_key() {
    let analyze = systemd_analyze();
    let tmp = tempfile::tempdir().unwrap();
    let text = read(UNIT)
        .replace(
            "ExecStart=/usr/local/bin/livepeer-signer ",
            &format!("ExecStart={} ", env!("CARGO_BIN_EXE_livepeer-signer")),
        )
        .replace("NoNewPrivileges=yes", "NoNewPrivilege=yes");
    let unit = tmp.path().join("livepeer-signer.service");
    std::fs::write(&unit, text).unwrap();
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(&unit)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("NoNewPrivilege"), "verify said nothing: {all:?}");
}

// ---------------------------------------------------------------- container

const DOCKERFILE: &str = "deploy/container/Dockerfile";

/// Dockerfile instructions (continuations joined, comments dropped) as
/// (INSTRUCTION, arguments).
fn dockerfile() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in read(DOCKERFILE).lines() {
        let line = raw.trim();
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        let full = format!("{pending}{line}");
        pending.clear();
        if full.trim().is_empty() {
            continue;
        }
        let (ins, args) = full.split_once(char::is_whitespace).unwrap_or((&full, ""));
        out.push((ins.to_ascii_uppercase(), args.trim().to_string()));
    }
    assert!(pending.is_empty(), "{DOCKERFILE}: dangling continuation");
    out
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_a_healthcheck() {
    let ins = dockerfile();
    let froms: Vec<(String, String)> = ins
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| {
            let parts: Vec<&str> = a.split_whitespace().collect();
            assert!(
                parts.len() == 3 && parts[1].eq_ignore_ascii_case("AS"),
                "FROM {a}: name every stage (FROM image AS name)"
            );
            (parts[0].to_string(), parts[2].to_string())
        })
        .collect();
    assert!(froms.len() >= 2, "multi-stage build expected: {froms:?}");
    for (image, _) in &froms {
        assert!(
            !image.contains('$'),
            "FROM {image}: use a literal, reviewable image"
        );
        let tag = image.rsplit('/').next().unwrap().split_once(':').map(|(_, t)| t);
        assert!(
            tag.is_some_and(|t| !t.is_empty() && t != "latest") || image.contains("@sha256:"),
            "FROM {image}: pin a tag other than latest"
        );
    }
    assert!(
        froms[0].0.starts_with("rust:") && froms[0].0.contains("bookworm"),
        "{froms:?}"
    );
    let runtime = &froms.last().unwrap().0;
    assert!(
        runtime == "debian:bookworm-slim" || runtime.starts_with("gcr.io/distroless/"),
        "runtime image {runtime}"
    );
    let builder = &froms[0].1;
    assert!(
        ins.iter()
            .any(|(i, a)| i == "COPY" && a.starts_with(&format!("--from={builder} "))),
        "the runtime copies the binary from the {builder} stage"
    );

    // The last stage: everything after the last FROM.
    let last_from = ins.iter().rposition(|(i, _)| i == "FROM").unwrap();
    let runtime_ins = &ins[last_from..];
    let get = |name: &str| -> Vec<&str> {
        runtime_ins
            .iter()
            .filter(|(i, _)| i == name)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    let user = *get("USER").last().expect("USER in the runtime stage");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "root" && uid != "0" && !uid.is_empty(), "USER {user}");
    assert!(
        uid.chars().all(|c| c.is_ascii_digit()),
        "USER {user}: numeric, so Kubernetes runAsNonRoot can verify it"
    );
    assert_eq!(get("EXPOSE"), ["8935"]);
    let hc = get("HEALTHCHECK");
    assert_eq!(hc.len(), 1, "one HEALTHCHECK");
    assert!(
        hc[0].contains("CMD") && hc[0].contains("livepeer-signer-healthcheck"),
        "{hc:?}"
    );
    assert!(read("deploy/container/healthcheck.sh").contains("GET /healthz"));
    assert!(get("ENTRYPOINT")
        .iter()
        .any(|e| e.contains("/usr/local/bin/livepeer-signer\"")));
    assert!(get("VOLUME")
        .iter()
        .any(|v| v.contains("/var/lib/livepeer-signer")));

    // WITH_PKCS11 defaults to 0 and installs softhsm2 + opensc only when 1.
    assert!(get("ARG").contains(&"WITH_PKCS11=0"), "{:?}", get("ARG"));
    let run = get("RUN").join("\n");
    assert!(
        run.contains("if [ \"$WITH_PKCS11\" = \"1\" ]") && run.contains("softhsm2 opensc"),
        "{run}"
    );

    // No fetches other than package managers, no `latest` anywhere.
    let text = read(DOCKERFILE);
    for bad in ["curl ", "wget ", "ADD http", ":latest", "git clone"] {
        assert!(
            !ins.iter().any(|(i, a)| format!("{i} {a}").contains(bad)),
            "{DOCKERFILE} contains {bad:?}"
        );
    }
    assert!(!text.contains(":latest"));
}

/// The build context is the repository root: every COPY source exists.
#[test]
fn dockerfile_copy_sources_exist() {
    let ins = dockerfile();
    let mut n = 0;
    for (i, args) in &ins {
        if i != "COPY" && i != "ADD" {
            continue;
        }
        if args.starts_with("--from=") {
            continue;
        }
        let parts: Vec<&str> = args.split_whitespace().filter(|p| !p.starts_with("--")).collect();
        for src in &parts[..parts.len() - 1] {
            assert!(root().join(src).exists(), "{i} {src}: not in the build context");
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} COPY sources found");
    let ignore = read("deploy/container/Dockerfile.dockerignore");
    assert!(
        ignore.lines().any(|l| l.trim() == "target"),
        "target/ must stay out of the context"
    );
}

/// The HEALTHCHECK script, run against the real daemon: healthy on a live
/// signer, unhealthy on a closed port.
#[test]
fn container_healthcheck_script_works_against_the_daemon() {
    let script = root().join("deploy/container/healthcheck.sh");
    let tmp = tempfile::tempdir().unwrap();
    let (key, pw) = support::write_c7(tmp.path());
    let cfg = support::write_keystore_config(tmp.path(), &key, &pw);
    let mut cmd = support::bin();
    cmd.arg("serve").arg("--config").arg(&cfg);
    let daemon = support::Daemon::start(cmd);
    let port = daemon.url.rsplit(':').next().unwrap().to_string();

    let run = |port: &str, mode: &str| {
        Command::new("bash")
            .arg(&script)
            .env("HEALTHCHECK_PORT", port)
            .env("HEALTHCHECK_MODE", mode)
            .output()
            .unwrap()
    };
    let ok = run(&port, "http");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(run(&port, "tcp").status.success());
    drop(daemon);
    let dead = run(&port, "http");
    assert!(!dead.status.success(), "healthy on a closed port");
}

// --------------------------------------------------------------- kubernetes

fn k8s_docs() -> Vec<(String, Value)> {
    let dir = root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in {}", dir.display());
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap_or_else(|e| panic!("{name}: {e}"));
            if v.is_null() {
                continue;
            }
            out.push((name.clone(), v));
        }
    }
    out
}

use serde::Deserialize;

fn s<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut cur = v;
    for part in path.split('.') {
        cur = match part.parse::<usize>() {
            Ok(i) => cur.get(i),
            Err(_) => cur.get(part),
        }
        .unwrap_or_else(|| panic!("missing {path} (at {part})"));
    }
    cur
}

fn str_at<'a>(v: &'a Value, path: &str) -> &'a str {
    s(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path} is not a string"))
}

fn one_kind(docs: &[(String, Value)], kind: &str) -> Value {
    let found: Vec<_> = docs
        .iter()
        .filter(|(_, d)| d.get("kind").and_then(Value::as_str) == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "exactly one {kind} expected");
    found[0].1.clone()
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    let sel = selector.as_mapping().expect("matchLabels mapping");
    !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn every_manifest_has_kind_and_api_version() {
    let docs = k8s_docs();
    let mut files = BTreeSet::new();
    for (file, d) in &docs {
        let kind = d.get("kind").and_then(Value::as_str);
        let api = d.get("apiVersion").and_then(Value::as_str);
        assert!(kind.is_some_and(|k| !k.is_empty()), "{file}: kind missing");
        assert!(api.is_some_and(|a| !a.is_empty()), "{file}: apiVersion missing");
        if kind != Some("Kustomization") {
            assert!(!str_at(d, "metadata.name").is_empty(), "{file}: metadata.name");
            files.insert(file.clone());
        }
    }
    let kinds: BTreeSet<&str> = docs.iter().map(|(_, d)| d["kind"].as_str().unwrap()).collect();
    for k in [
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
    ] {
        assert!(kinds.contains(k), "no {k} manifest");
    }
    // kustomization.yaml lists exactly the other manifests.
    let kz = one_kind(&docs, "Kustomization");
    let listed: BTreeSet<String> = s(&kz, "resources")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, files, "kustomization.yaml resources");
}

/// The TOML in the ConfigMap, written to a file.
fn configmap_toml(docs: &[(String, Value)], dir: &Path) -> (PathBuf, toml::Value) {
    let cm = one_kind(docs, "ConfigMap");
    let text = s(&cm, "data")
        .get("livepeer-signer.toml")
        .and_then(Value::as_str)
        .expect("ConfigMap data livepeer-signer.toml");
    let file = dir.join("livepeer-signer.toml");
    // check --offline reads the token and TLS files: make them real.
    std::fs::write(&file, support::config_files::materialize(text, &dir.join("root"))).unwrap();
    (file, toml::from_str(text).unwrap())
}

#[test]
fn deployment_probes_security_and_replicas() {
    let docs = k8s_docs();
    let dep = one_kind(&docs, "Deployment");
    assert_eq!(str_at(&dep, "apiVersion"), "apps/v1");
    let replicas = s(&dep, "spec.replicas").as_u64().unwrap();
    assert!(replicas >= 2, "replicas = {replicas}");
    let pod = s(&dep, "spec.template.spec");
    let pod_labels = s(&dep, "spec.template.metadata.labels");
    assert!(labels_match(s(&dep, "spec.selector.matchLabels"), pod_labels));

    // Pod security context.
    assert_eq!(s(pod, "securityContext.runAsNonRoot").as_bool(), Some(true));
    assert_eq!(
        str_at(pod, "securityContext.seccompProfile.type"),
        "RuntimeDefault"
    );
    let uid = s(pod, "securityContext.runAsUser").as_u64().unwrap();
    assert!(uid > 0);
    assert!(
        read(DOCKERFILE).contains(&format!("USER {uid}:")),
        "runAsUser {uid} matches the image's USER"
    );

    let containers = s(pod, "containers").as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    let image = str_at(c, "image");
    assert!(
        image.contains(':') && !image.ends_with(":latest"),
        "image {image}"
    );
    let sc = s(c, "securityContext");
    assert_eq!(s(sc, "runAsNonRoot").as_bool(), Some(true));
    assert_eq!(s(sc, "readOnlyRootFilesystem").as_bool(), Some(true));
    assert_eq!(s(sc, "allowPrivilegeEscalation").as_bool(), Some(false));
    assert_eq!(str_at(sc, "seccompProfile.type"), "RuntimeDefault");
    let drop: Vec<&str> = s(sc, "capabilities.drop")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(drop, ["ALL"]);
    assert!(sc.get("capabilities").unwrap().get("add").is_none());

    // Probes on the right paths and a declared port.
    let ports: BTreeMap<&str, u64> = s(c, "ports")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| (str_at(p, "name"), s(p, "containerPort").as_u64().unwrap()))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let (_, cfg) = configmap_toml(&docs, tmp.path());
    let tls = cfg["server"].get("tls").is_some();
    for (probe, path) in [
        ("readinessProbe", "/readyz"),
        ("livenessProbe", "/healthz"),
        ("startupProbe", "/healthz"),
    ] {
        let p = s(c, probe);
        assert_eq!(str_at(p, "httpGet.path"), path, "{probe}");
        let port = str_at(p, "httpGet.port");
        assert_eq!(ports.get(port), Some(&8935), "{probe} port {port}");
        let scheme = p["httpGet"]
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("HTTP");
        assert_eq!(
            scheme,
            if tls { "HTTPS" } else { "HTTP" },
            "{probe} scheme vs [server.tls]"
        );
    }

    // The config's listeners are the container ports.
    let port_of = |a: &str| a.rsplit(':').next().unwrap().parse::<u64>().unwrap();
    assert_eq!(port_of(cfg["server"]["listen"].as_str().unwrap()), ports["api"]);
    assert_eq!(
        port_of(cfg["server"]["metrics_listen"].as_str().unwrap()),
        ports["metrics"]
    );
    // SIGTERM drain fits in the grace period.
    let grace = s(pod, "terminationGracePeriodSeconds").as_i64().unwrap();
    let drain = cfg["server"]
        .get("shutdown_timeout_s")
        .and_then(|v| v.as_integer())
        .unwrap_or(30);
    assert!(
        grace > drain,
        "terminationGracePeriodSeconds {grace} <= shutdown_timeout_s {drain}"
    );

    // The replica/key note.
    let text = read("deploy/kubernetes/deployment.yaml");
    assert!(text.contains("RFC 6979") && text.contains("fetches one signature once"));
}

/// The ConfigMap's TOML is a valid config, and every file it names is under
/// a volume the Deployment mounts (read-only root: nothing else exists).
#[test]
fn configmap_config_validates_and_its_files_are_mounted() {
    let docs = k8s_docs();
    let tmp = tempfile::tempdir().unwrap();
    let (file, cfg) = configmap_toml(&docs, tmp.path());
    let (code, out, err) = check_offline(&file, &[]);
    assert_eq!(code, 0, "ConfigMap TOML: {err}");
    assert!(out.starts_with("config ok: "));

    let dep = one_kind(&docs, "Deployment");
    let c = s(&dep, "spec.template.spec.containers.0");
    let mounts: Vec<(String, String)> = s(c, "volumeMounts")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| (str_at(m, "name").to_string(), str_at(m, "mountPath").to_string()))
        .collect();
    for (_, m) in &mounts {
        assert!(
            s(c, "volumeMounts")
                .as_sequence()
                .unwrap()
                .iter()
                .any(|v| str_at(v, "mountPath") == m
                    && v.get("readOnly").and_then(Value::as_bool) == Some(true)),
            "{m} must be mounted read-only"
        );
    }
    let volumes: BTreeSet<&str> = s(&dep, "spec.template.spec.volumes")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| str_at(v, "name"))
        .collect();
    for (name, _) in &mounts {
        assert!(
            volumes.contains(name.as_str()),
            "volumeMount {name} has no volume"
        );
    }

    let mut paths = vec![
        cfg["key"]["keystore"]["path"].as_str().unwrap().to_string(),
        cfg["key"]["keystore"]["password_file"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    if let Some(t) = cfg["server"].get("tls") {
        paths.push(t["cert_file"].as_str().unwrap().into());
        paths.push(t["key_file"].as_str().unwrap().into());
    }
    for t in cfg["auth"]["tokens"].as_array().unwrap() {
        if let Some(f) = t.get("file") {
            paths.push(f.as_str().unwrap().into());
        }
    }
    let args: Vec<&str> = s(c, "args")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let config_arg = args[args.iter().position(|a| *a == "--config").unwrap() + 1];
    paths.push(config_arg.to_string());
    for p in &paths {
        assert!(
            mounts
                .iter()
                .any(|(_, m)| p == m || p.starts_with(&format!("{m}/"))),
            "{p} is named by the config but not under any volumeMount {mounts:?}"
        );
    }
}

#[test]
fn service_pdb_networkpolicy_serviceaccount_fit_the_deployment() {
    let docs = k8s_docs();
    let dep = one_kind(&docs, "Deployment");
    let pod_labels = s(&dep, "spec.template.metadata.labels").clone();
    let replicas = s(&dep, "spec.replicas").as_u64().unwrap();
    let c = s(&dep, "spec.template.spec.containers.0");
    let port_names: BTreeSet<&str> = s(c, "ports")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| str_at(p, "name"))
        .collect();

    let svc = one_kind(&docs, "Service");
    assert!(labels_match(s(&svc, "spec.selector"), &pod_labels));
    for p in s(&svc, "spec.ports").as_sequence().unwrap() {
        assert!(port_names.contains(str_at(p, "targetPort")), "Service targetPort");
    }

    let pdb = one_kind(&docs, "PodDisruptionBudget");
    assert_eq!(str_at(&pdb, "apiVersion"), "policy/v1");
    assert!(labels_match(s(&pdb, "spec.selector.matchLabels"), &pod_labels));
    let min = s(&pdb, "spec.minAvailable").as_u64().unwrap();
    assert!(
        min >= 1 && min < replicas,
        "minAvailable {min} with {replicas} replicas"
    );

    let np = one_kind(&docs, "NetworkPolicy");
    assert!(labels_match(s(&np, "spec.podSelector.matchLabels"), &pod_labels));
    let types: Vec<&str> = s(&np, "spec.policyTypes")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(types.contains(&"Ingress"));
    let rules = s(&np, "spec.ingress").as_sequence().unwrap();
    let mut by_port: BTreeMap<u64, &Value> = BTreeMap::new();
    for r in rules {
        let from = r.get("from").and_then(Value::as_sequence);
        assert!(
            from.is_some_and(|f| !f.is_empty()),
            "an ingress rule without `from` admits everyone"
        );
        let ports = s(r, "ports").as_sequence().unwrap();
        assert_eq!(ports.len(), 1);
        by_port.insert(s(&ports[0], "port").as_u64().unwrap(), r);
    }
    assert_eq!(by_port.keys().copied().collect::<Vec<_>>(), [8935, 9935]);
    let api_from = s(by_port[&8935], "from.0");
    assert!(
        !s(api_from, "podSelector.matchLabels")
            .as_mapping()
            .unwrap()
            .is_empty(),
        "the API is open to gateway pods by label"
    );
    let metrics_from = s(by_port[&9935], "from.0");
    assert!(!s(metrics_from, "podSelector.matchLabels")
        .as_mapping()
        .unwrap()
        .is_empty());

    let sa = one_kind(&docs, "ServiceAccount");
    assert_eq!(
        str_at(&sa, "metadata.name"),
        str_at(&dep, "spec.template.spec.serviceAccountName")
    );
    let role = s(&sa, "metadata.annotations")
        .get("eks.amazonaws.com/role-arn")
        .and_then(Value::as_str)
        .expect("IRSA annotation eks.amazonaws.com/role-arn");
    assert!(role.starts_with("arn:aws:iam::"), "{role}");
}

// ---------------------------------------------------------------------- aws

fn json(rel: &str) -> serde_json::Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn as_list(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("expected a string or a list: {other}"),
    }
}

/// IAM action pattern matching (`*` and `?` wildcards, case-insensitive).
fn action_matches(pattern: &str, action: &str) -> bool {
    fn m(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], a) || (!a.is_empty() && m(p, &a[1..])),
            (Some(b'?'), Some(_)) => m(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => m(&p[1..], &a[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), action.as_bytes())
}

fn assert_sign_conditions(stmt: &serde_json::Value, file: &str) {
    let eq = &stmt["Condition"]["StringEquals"];
    assert_eq!(eq["kms:SigningAlgorithm"], "ECDSA_SHA_256", "{file}: {stmt}");
    assert_eq!(eq["kms:MessageType"], "DIGEST", "{file}: {stmt}");
}

#[test]
fn iam_policy_grants_exactly_get_public_key_and_digest_sign_on_one_key() {
    let file = "deploy/aws/iam-policy.json";
    let p = json(file);
    assert_eq!(p["Version"], "2012-10-17");
    let mut actions = BTreeSet::new();
    let mut resources = BTreeSet::new();
    for stmt in p["Statement"].as_array().unwrap() {
        assert_eq!(stmt["Effect"], "Allow");
        assert!(stmt.get("NotAction").is_none() && stmt.get("NotResource").is_none());
        let acts = as_list(&stmt["Action"]);
        for a in &acts {
            assert!(
                !a.contains('*') && !a.contains('?'),
                "{file}: wildcard action {a}"
            );
            actions.insert(a.clone());
        }
        for r in as_list(&stmt["Resource"]) {
            let parts: Vec<&str> = r.split(':').collect();
            assert!(
                parts.len() == 6
                    && parts[..3] == ["arn", "aws", "kms"]
                    && parts[5].starts_with("key/")
                    && !r.contains('*'),
                "{file}: resource {r} must be one key ARN (not an alias, not *)"
            );
            resources.insert(r);
        }
        if acts.iter().any(|a| a == "kms:Sign") {
            assert_eq!(acts, ["kms:Sign"], "{file}: keep Sign in its own statement");
            assert_sign_conditions(stmt, file);
        }
    }
    assert_eq!(
        actions,
        BTreeSet::from(["kms:GetPublicKey".to_string(), "kms:Sign".to_string()])
    );
    assert_eq!(resources.len(), 1, "{file}: one key: {resources:?}");
}

#[test]
fn key_policy_lets_only_the_signer_role_sign_digests() {
    let file = "deploy/aws/key-policy.json";
    let p = json(file);
    let statements = p["Statement"].as_array().unwrap();
    let mut signer_actions = BTreeSet::new();
    let mut signer_role = None;
    for stmt in statements {
        assert_eq!(stmt["Effect"], "Allow");
        let principals = as_list(&stmt["Principal"]["AWS"]);
        let acts = as_list(&stmt["Action"]);
        let is_signer = principals.iter().all(|p| p.contains(":role/"));
        if is_signer {
            signer_role.get_or_insert_with(|| principals.clone());
            assert_eq!(signer_role.as_ref(), Some(&principals));
            signer_actions.extend(acts.iter().cloned());
            if acts.iter().any(|a| a == "kms:Sign") {
                assert_sign_conditions(stmt, file);
            }
        } else {
            for a in &acts {
                assert!(
                    !action_matches(a, "kms:Sign"),
                    "{file}: {principals:?} may sign through {a}"
                );
            }
        }
    }
    assert_eq!(
        signer_actions,
        BTreeSet::from(["kms:GetPublicKey".to_string(), "kms:Sign".to_string()])
    );
    assert!(action_matches("kms:*", "kms:Sign") && !action_matches("kms:Get*", "kms:Sign"));
}

#[test]
fn aws_readme_has_the_key_creation_and_address_commands() {
    let readme = read("deploy/aws/README.md");
    for needle in [
        "aws kms create-key",
        "--key-spec ECC_SECG_P256K1",
        "--key-usage SIGN_VERIFY",
        "aws kms create-alias",
        "livepeer-signer address --config",
    ] {
        assert!(readme.contains(needle), "deploy/aws/README.md lacks {needle:?}");
    }
}
