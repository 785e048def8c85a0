//! V3 keystore: go-ethereum's official vectors and keystore directory,
//! vectors.md C7, and keys written by `create_key` read back.

mod support;

use std::path::PathBuf;

use livepeer_signer::config::KeystoreConfig;
use livepeer_signer::eth::{hex, Address};
use livepeer_signer::keys::keystore::{
    create_key, key_file_name, scan_dir, KeyFile, KeystoreBackend, KeystoreError, ScryptStrength, V3Error,
};
use livepeer_signer::keys::KeyBackend;
use secrecy::SecretString;

fn geth_dir() -> PathBuf {
    support::shared_testdata().join("geth-keystore/keystore")
}

fn addr(s: &str) -> Address {
    s.parse().unwrap()
}

fn cfg(path: PathBuf, password_file: PathBuf) -> KeystoreConfig {
    KeystoreConfig {
        path,
        address: None,
        password_file: Some(password_file),
        password_env: None,
        create_if_missing: false,
    }
}

fn foobar_password_file(dir: &tempfile::TempDir) -> PathBuf {
    let p = dir.path().join("pw");
    std::fs::write(&p, "  foobar\n").unwrap(); // surrounding whitespace is trimmed
    p
}

#[test]
fn geth_directory_scan_matches_geth() {
    let scan = scan_dir(&geth_dir()).unwrap();
    let got: Vec<(String, Address)> = scan
        .accounts
        .iter()
        .map(|a| {
            (
                a.path.file_name().unwrap().to_string_lossy().into_owned(),
                a.address,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "UTC--2016-03-22T12-57-55.920751759Z--7ef5a6135f1fd6a02593eedc869c6d41d934aef8".into(),
                addr("0x7ef5a6135f1fd6a02593eedc869c6d41d934aef8")
            ),
            ("aaa".into(), addr("0xf466859ead1932d743d622cb74fc058882e8648a")),
            ("zzz".into(), addr("0x289d485d9771714cce91d3393d764e1311907acc")),
        ]
    );
    let skipped: Vec<(String, String)> = scan
        .skipped
        .iter()
        .map(|(p, r)| (p.file_name().unwrap().to_string_lossy().into_owned(), r.clone()))
        .collect();
    let names: Vec<&str> = skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["README", "empty", "garbage", "no-address", "zero"]);
    for (name, reason) in &skipped {
        match name.as_str() {
            "no-address" | "zero" => assert_eq!(reason, "missing or zero address"),
            _ => assert!(reason.starts_with("not a V3 key file"), "{name}: {reason}"),
        }
    }
}

#[test]
fn geth_directory_skips_dotfiles_tilde_files_and_subdirectories() {
    let dir = tempfile::tempdir().unwrap();
    let src = geth_dir().join("aaa");
    for name in [".hiddenfile", "swapfile~", "foo/aaa"] {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(&src, &p).unwrap();
    }
    let scan = scan_dir(dir.path()).unwrap();
    assert!(scan.accounts.is_empty(), "{:?}", scan.accounts);
    assert!(scan.skipped.is_empty());
}

#[test]
fn every_good_geth_key_decrypts_to_its_address() {
    for account in scan_dir(&geth_dir()).unwrap().accounts {
        let b = KeystoreBackend::unlock(&account.path, &SecretString::from("foobar")).unwrap();
        assert_eq!(Address::from_public_key(b.public_key()), account.address);
    }
}

#[test]
fn directory_without_address_uses_the_first_key_by_file_name() {
    let tmp = tempfile::tempdir().unwrap();
    let b = KeystoreBackend::open_blocking(&cfg(geth_dir(), foobar_password_file(&tmp))).unwrap();
    assert_eq!(
        Address::from_public_key(b.public_key()),
        addr("0x7ef5a6135f1fd6a02593eedc869c6d41d934aef8")
    );
}

#[test]
fn configured_address_selects_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg(geth_dir(), foobar_password_file(&tmp));
    c.address = Some(addr("289D485D9771714CCE91D3393D764E1311907ACC"));
    let b = KeystoreBackend::open_blocking(&c).unwrap();
    assert_eq!(b.file().file_name().unwrap(), "zzz");
}

#[test]
fn configured_address_not_present_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg(geth_dir(), foobar_password_file(&tmp));
    c.address = Some(addr(support::C_ADDRESS));
    let err = KeystoreBackend::open_blocking(&c).unwrap_err();
    assert!(matches!(err, KeystoreError::AddressNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    let present = addr("0x7ef5a6135f1fd6a02593eedc869c6d41d934aef8").to_checksum();
    assert!(
        msg.contains(support::C_ADDRESS) && msg.contains(&present),
        "{msg}"
    );
}

#[test]
fn wrong_password_names_the_file_and_never_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    let pw = tmp.path().join("pw");
    std::fs::write(&pw, "not-the-password").unwrap();
    let err = KeystoreBackend::open_blocking(&cfg(geth_dir().join("aaa"), pw)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, KeystoreError::WrongPassword { .. }));
    assert!(msg.starts_with("wrong password for keystore "), "{msg}");
    assert!(msg.contains("aaa"), "{msg}");
    assert!(!msg.contains("not-the-password"), "{msg}");
}

#[test]
fn missing_password_file_names_the_file() {
    let err =
        KeystoreBackend::open_blocking(&cfg(geth_dir().join("aaa"), "/nonexistent/pw".into())).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/nonexistent/pw") && msg.contains("No such file"),
        "{msg}"
    );
}

#[test]
fn empty_directory_says_how_to_create_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let ks = tmp.path().join("ks");
    std::fs::create_dir(&ks).unwrap();
    let err = KeystoreBackend::open_blocking(&cfg(ks, foobar_password_file(&tmp))).unwrap_err();
    assert!(err.to_string().contains("keystore new"), "{err}");
}

#[test]
fn official_v3_vectors_decrypt_to_the_expected_keys() {
    let text = std::fs::read_to_string(support::shared_testdata().join("geth-keystore/v3_test_vector.json"))
        .unwrap();
    let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = cases.as_object().unwrap();
    assert!(cases.len() >= 4);
    for (name, case) in cases {
        let file = KeyFile::parse(case["json"].to_string().as_bytes()).unwrap();
        let password = case["password"].as_str().unwrap();
        let key = file
            .decrypt(password.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = case["priv"].as_str().unwrap();
        // Shorter keys are left-padded to 32 bytes.
        assert_eq!(hex::encode(key.to_bytes()), format!("{want:0>64}"), "{name}");
        assert!(
            matches!(file.decrypt(b"wrong"), Err(V3Error::WrongPassword)),
            "{name}"
        );
    }
}

#[test]
fn very_light_scrypt_with_empty_password() {
    let bytes =
        std::fs::read(support::shared_testdata().join("geth-keystore/very-light-scrypt.json")).unwrap();
    let key = KeyFile::parse(&bytes).unwrap().decrypt(b"").unwrap();
    assert_eq!(
        Address::from_public_key(key.verifying_key()),
        addr("0x45dea0fb0bba44f4fcf290bba71fd57d7117cbb8")
    );
}

#[test]
fn c7_vector_decrypts_to_the_c_key() {
    let key = KeyFile::parse(support::C7_KEYSTORE.as_bytes())
        .unwrap()
        .decrypt(support::C7_PASSWORD.as_bytes())
        .unwrap();
    assert_eq!(hex::encode(key.to_bytes()), support::C_KEY);
}

#[test]
fn address_field_that_does_not_match_the_key_is_refused() {
    let mut file = KeyFile::parse(support::C7_KEYSTORE.as_bytes()).unwrap();
    file.address = Some("f466859ead1932d743d622cb74fc058882e8648a".into());
    let err = file.decrypt(support::C7_PASSWORD.as_bytes()).unwrap_err();
    assert!(matches!(err, V3Error::AddressMismatch { .. }), "{err:?}");
}

#[test]
fn absurd_kdf_parameters_are_refused_before_running() {
    let mut file = KeyFile::parse(support::C7_KEYSTORE.as_bytes()).unwrap();
    file.crypto.kdfparams["n"] = serde_json::json!(1u64 << 40);
    assert!(matches!(file.decrypt(b"x"), Err(V3Error::KdfParams(_))));
    file.crypto.kdfparams["n"] = serde_json::json!(1000);
    assert!(matches!(file.decrypt(b"x"), Err(V3Error::KdfParams(_))));
    file.crypto.kdf = "argon2".into();
    assert!(matches!(file.decrypt(b"x"), Err(V3Error::Kdf(_))));
}

#[test]
fn created_key_reads_back_with_geth_name_and_mode_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new-ks");
    let pw = SecretString::from("correct horse");
    let (path, address) = create_key(&dir, &pw, ScryptStrength::Light).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("UTC--") && name.ends_with(&format!("Z--{}", hex::encode(address.as_bytes()))),
        "{name}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    let parsed: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(parsed["version"], 3);
    assert_eq!(parsed["crypto"]["kdfparams"]["n"], 4096);
    assert_eq!(parsed["crypto"]["kdfparams"]["p"], 6);
    let b = KeystoreBackend::unlock(&path, &pw).unwrap();
    assert_eq!(Address::from_public_key(b.public_key()), address);
    assert_eq!(scan_dir(&dir).unwrap().accounts.len(), 1);
}

#[test]
fn standard_strength_uses_go_livepeer_parameters() {
    let key = support::c_key();
    let file = KeyFile::encrypt(&key, b"pw", ScryptStrength::Standard);
    assert_eq!(file.crypto.kdfparams["n"], 262144);
    assert_eq!(file.crypto.kdfparams["r"], 8);
    assert_eq!(file.crypto.kdfparams["p"], 1);
    assert_eq!(file.crypto.kdfparams["dklen"], 32);
    assert_eq!(
        hex::encode(file.decrypt(b"pw").unwrap().to_bytes()),
        support::C_KEY
    );
}

#[test]
fn key_file_name_is_geths_format() {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(1_458_651_475_920_751_759).unwrap();
    assert_eq!(
        key_file_name(&addr("7ef5a6135f1fd6a02593eedc869c6d41d934aef8"), t),
        "UTC--2016-03-22T12-57-55.920751759Z--7ef5a6135f1fd6a02593eedc869c6d41d934aef8"
    );
}

#[test]
fn create_if_missing_makes_a_key_and_a_private_password_file() {
    let tmp = tempfile::tempdir().unwrap();
    let c = KeystoreConfig {
        path: tmp.path().join("data/keystore"),
        address: None,
        password_file: Some(tmp.path().join("data/password")),
        password_env: None,
        create_if_missing: true,
    };
    let first = KeystoreBackend::open_blocking(&c).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tmp.path().join("data/password"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The second start loads the same key instead of creating another.
    let second = KeystoreBackend::open_blocking(&c).unwrap();
    assert_eq!(first.public_key(), second.public_key());
    assert_eq!(scan_dir(&c.path).unwrap().accounts.len(), 1);
}
