//! `Signer::sign_digest` over the AWS KMS backend (KMS `Sign` with
//! `MessageType = DIGEST`, DER parsing, low-s, trial recovery, self-check)
//! against the ceiling: the raw `aws-sdk-kms` `Sign` call alone, with the
//! same client, on the same emulator (moto, patched by
//! `tests/support/kms_emulator.py`, on 127.0.0.1). Prints the throughput
//! ratio measured in this same process.
//!
//! Run: `cargo bench --bench aws_kms` (needs the pinned moto of
//! tests/requirements.txt: `$TEST_PYTHON`, or `.tools/venv` made by
//! scripts/test.sh).

#[path = "../tests/support/kms.rs"]
mod kms;

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use criterion::{criterion_group, Criterion};
use k256::ecdsa::SigningKey;
use livepeer_signer::eth::keccak256;
use livepeer_signer::signer::Signer;

struct Setup {
    // Dropped last: the emulator is killed after the clients are gone.
    client: aws_sdk_kms::Client,
    key_id: String,
    signer: Signer,
    rt: tokio::runtime::Runtime,
    _emu: kms::KmsEmulator,
}

fn setup() -> Setup {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let emu = kms::KmsEmulator::start();
    let key = SigningKey::from_slice(&keccak256(b"aws-kms bench key")).unwrap();
    let (key_id, backend) = rt.block_on(async {
        let key_id = emu.create_seeded_key(&key).await;
        let backend = emu.open(&key_id).await.unwrap();
        (key_id, backend)
    });
    let client = backend.client().clone();
    Setup {
        client,
        key_id,
        signer: Signer::new(Box::new(backend)),
        rt,
        _emu: emu,
    }
}

async fn raw_sign(client: &aws_sdk_kms::Client, key_id: &str, digest: [u8; 32]) -> Blob {
    client
        .sign()
        .key_id(key_id)
        .message(Blob::new(digest.to_vec()))
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap()
        .signature()
        .unwrap()
        .clone()
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group("aws_kms_sign_digest");
    let mut i = 0u64;
    g.bench_function("raw_sdk_sign", |b| {
        b.iter(|| {
            i += 1;
            let d = keccak256(i.to_be_bytes());
            black_box(s.rt.block_on(raw_sign(&s.client, &s.key_id, d)))
        })
    });
    g.bench_function("signer_aws_kms", |b| {
        b.iter(|| {
            i += 1;
            let d = keccak256(i.to_be_bytes());
            black_box(s.rt.block_on(s.signer.sign_digest(&d)).unwrap())
        })
    });
    g.finish();
}

/// Interleaved rounds of both loops; prints signatures/s and the ratio.
fn ratio() {
    let s = setup();
    let n = 200u64;
    let rounds = 5u64;
    let (mut raw_s, mut ours_s) = (0f64, 0f64);
    for round in 0..rounds {
        let t = Instant::now();
        for j in 0..n {
            let d = keccak256((round * n + j).to_be_bytes());
            black_box(s.rt.block_on(raw_sign(&s.client, &s.key_id, d)));
        }
        raw_s += t.elapsed().as_secs_f64();
        let t = Instant::now();
        for j in 0..n {
            let d = keccak256((round * n + j).to_be_bytes());
            black_box(s.rt.block_on(s.signer.sign_digest(&d)).unwrap());
        }
        ours_s += t.elapsed().as_secs_f64();
    }
    let total = (rounds * n) as f64;
    println!(
        "ratio aws-kms sign_digest: signer_aws_kms {:.0}/s vs raw SDK Sign {:.0}/s = {:.2}x of the ceiling",
        total / ours_s,
        total / raw_s,
        raw_s / ours_s
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio();
}
