//! `Signer::sign_digest` over the PKCS#11 backend (SoftHSM2: session pool,
//! blocking-thread hop, low-s normalisation, trial recovery, self-check)
//! against the ceiling: a raw `C_Sign` (`CKM_ECDSA`) loop on one logged-in
//! session of the same token and key. Prints the throughput ratio measured
//! in this same process.
//!
//! Needs SoftHSM2 (`sudo apt-get install softhsm2`); uses a throwaway token
//! directory. Run: `cargo bench --bench pkcs11`

#[path = "../tests/support/softhsm.rs"]
mod softhsm;
// softhsm::bin() builds on support::bin().
#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use k256::ecdsa::SigningKey;
use livepeer_signer::eth::keccak256;
use livepeer_signer::keys::pkcs11::{admin, find_key, KeySelector, Pkcs11Backend};
use livepeer_signer::keys::KeyBackend;
use livepeer_signer::signer::Signer;

struct Setup {
    _token: softhsm::Token,
    session: Session,
    key: ObjectHandle,
    signer: Signer,
    backend: Pkcs11Backend,
    rt: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let token = softhsm::Token::new("bench");
    let key = SigningKey::from_slice(&keccak256(b"bench key")).unwrap();
    let session = token.session();
    admin::import_key(&session, &key, "bench", &[0xbe], &token.label).unwrap();
    let sel = KeySelector {
        label: Some("bench".into()),
        id: None,
    };
    let handle = find_key(&session, &sel, &token.label).unwrap().handle;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let open = || {
        rt.block_on(Pkcs11Backend::open(&token.config(Some("bench"), None, 1)))
            .unwrap()
    };
    let (backend, for_signer) = (open(), open());
    Setup {
        backend,
        _token: token,
        session,
        key: handle,
        signer: Signer::new(Box::new(for_signer)),
        rt,
    }
}

fn raw_sign(s: &Setup, digest: &[u8; 32]) -> Vec<u8> {
    s.session.sign(&Mechanism::Ecdsa, s.key, digest).unwrap()
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group("pkcs11_sign_digest");
    let mut i = 0u64;
    g.bench_function("raw_c_sign_softhsm2", |b| {
        b.iter(|| {
            i += 1;
            black_box(raw_sign(&s, &keccak256(i.to_be_bytes())))
        })
    });
    g.bench_function("signer_pkcs11_softhsm2", |b| {
        b.iter(|| {
            i += 1;
            let d = keccak256(i.to_be_bytes());
            black_box(s.rt.block_on(s.signer.sign_digest(&d)).unwrap())
        })
    });
    g.finish();
}

/// Many short interleaved rounds of the three loops (raw `C_Sign`, backend
/// alone, full Signer), so load changes on a shared machine hit all three
/// alike; prints aggregate signatures/s and the median per-round ratio.
fn ratio() {
    let s = setup();
    let (n, rounds) = (40u64, 50u64);
    let (mut raw_s, mut backend_s, mut ours_s) = (0f64, 0f64, 0f64);
    let (mut signer_ratios, mut backend_ratios) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let t = Instant::now();
        for j in 0..n {
            black_box(raw_sign(&s, &keccak256((round * n + j).to_be_bytes())));
        }
        let raw = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for j in 0..n {
            let d = keccak256((round * n + j).to_be_bytes());
            black_box(s.rt.block_on(s.backend.sign_digest(&d)).unwrap());
        }
        let backend = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for j in 0..n {
            let d = keccak256((round * n + j).to_be_bytes());
            black_box(s.rt.block_on(s.signer.sign_digest(&d)).unwrap());
        }
        let ours = t.elapsed().as_secs_f64();
        raw_s += raw;
        backend_s += backend;
        ours_s += ours;
        signer_ratios.push(raw / ours);
        backend_ratios.push(raw / backend);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let total = (rounds * n) as f64;
    println!(
        "ratio pkcs11 sign_digest: signer_pkcs11 {:.0}/s vs raw C_Sign {:.0}/s = {:.2}x of the ceiling \
         (median of {rounds} rounds: {:.2}x); backend alone (pool + blocking-thread hop, no Ethereum \
         rules) {:.0}/s = {:.2}x (median {:.2}x)",
        total / ours_s,
        total / raw_s,
        raw_s / ours_s,
        median(&mut signer_ratios),
        total / backend_s,
        raw_s / backend_s,
        median(&mut backend_ratios)
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio();
}
