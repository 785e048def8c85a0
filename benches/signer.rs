//! `Signer::sign_digest` (keystore backend: sign, normalise, hinted
//! recovery = go-livepeer's VerifySig self-check) against the ceiling: raw
//! libsecp256k1 sign (recoverable, RFC 6979) + one verification, in one
//! loop on the same key and digests, i.e. the cheapest self-checked
//! signature. Raw k256 signing is timed too, for reference. Prints the
//! throughput ratio measured in this same process.
//!
//! Run: `cargo bench --bench signer`

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use k256::ecdsa::SigningKey;
use livepeer_signer::eth::keccak256;
use livepeer_signer::keys::keystore::KeystoreBackend;
use livepeer_signer::signer::Signer;

fn key() -> SigningKey {
    SigningKey::from_slice(&keccak256(b"bench key")).unwrap()
}

fn setup() -> (SigningKey, Signer, tokio::runtime::Runtime) {
    let k = key();
    let signer = Signer::new(Box::new(KeystoreBackend::from_signing_key(
        k.clone(),
        "memory".into(),
    )));
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    (k, signer, rt)
}

fn bench(c: &mut Criterion) {
    let (k, signer, rt) = setup();
    let mut g = c.benchmark_group("sign_digest");
    let mut i = 0u64;
    g.bench_function("raw_k256_sign_prehash_recoverable", |b| {
        b.iter(|| {
            i += 1;
            let d = keccak256(i.to_be_bytes());
            black_box(k.sign_prehash_recoverable(&d).unwrap())
        })
    });
    g.bench_function("signer_keystore", |b| {
        b.iter(|| {
            i += 1;
            let d = keccak256(i.to_be_bytes());
            black_box(rt.block_on(signer.sign_digest(&d)).unwrap())
        })
    });
    g.finish();
}

/// Interleaved rounds of the loops; prints signatures/s and the ratio.
fn ratio() {
    let (k, signer, rt) = setup();
    let secp = secp256k1::Secp256k1::new();
    let sk = secp256k1::SecretKey::from_byte_array(k.to_bytes().into()).unwrap();
    let pk = secp256k1::PublicKey::from_secret_key(&secp, &sk);
    let n = 4000u64;
    let (mut ceiling_s, mut ours_s, mut k256_s, mut secp_s) = (0f64, 0f64, 0f64, 0f64);
    for round in 0..5u64 {
        let t = Instant::now();
        for j in 0..n {
            let d = keccak256((round * n + j).to_be_bytes());
            let msg = secp256k1::Message::from_digest(d);
            let sig = secp.sign_ecdsa_recoverable(msg, &sk);
            secp.verify_ecdsa(msg, &sig.to_standard(), &pk).unwrap();
            black_box(sig);
        }
        ceiling_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        for j in 0..n {
            let d = keccak256((round * n + j).to_be_bytes());
            black_box(rt.block_on(signer.sign_digest(&d)).unwrap());
        }
        ours_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        for j in 0..n {
            let d = keccak256((round * n + j).to_be_bytes());
            black_box(k.sign_prehash_recoverable(&d).unwrap());
        }
        k256_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        for j in 0..n {
            let d = keccak256((round * n + j).to_be_bytes());
            black_box(secp.sign_ecdsa_recoverable(secp256k1::Message::from_digest(d), &sk));
        }
        secp_s += t.elapsed().as_secs_f64();
    }
    let total = (5 * n) as f64;
    println!(
        "ratio sign_digest: signer_keystore {:.0}/s vs raw libsecp256k1 sign+verify {:.0}/s = {:.2}x of the ceiling (raw k256 sign alone {:.0}/s)",
        total / ours_s,
        total / ceiling_s,
        ceiling_s / ours_s,
        total / k256_s
    );
    // What the Signer adds to a raw signature (the hinted recovery of
    // go-livepeer's VerifySig, low-s, metrics): 1/Signer − 1/raw
    // libsecp256k1 sign; scripts/bench.sh uses it to explain the
    // pkcs11 / aws-kms ratios.
    println!(
        "overhead sign_digest: raw libsecp256k1 sign alone {:.0}/s; Signer overhead per signature {:.1} us",
        total / secp_s,
        (ours_s - secp_s) / total * 1e6
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio();
}
