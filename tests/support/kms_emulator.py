#!/usr/bin/env python3
"""A KMS-protocol HTTP server for the aws-kms tests: moto's KMS, patched in-process.

Usage: kms_emulator.py [--unpatched-digest]

Binds 127.0.0.1 on an ephemeral port, prints `PORT <n>` on stdout (one line,
flushed), then serves until killed. The Rust harness (tests/support/kms.rs)
reads that line and kills this process by its PID when the test ends.

Why a wrapper: moto 5.x is a faithful enough KMS for our requests (the real
aws-sdk-kms JSON protocol, GetPublicKey, Sign, CreateKey, aliases, key
states), with these gaps, patched here (each patch is small and named):

1. DIGEST is ignored (`patch_digest`). moto's `Sign` reads `MessageType` and
   throws it away: it always runs ECDSA with SHA-256 over `Message`, so a
   32-byte digest sent with `MessageType=DIGEST` is hashed *again*. Real KMS
   signs a DIGEST message as-is (a prehash; it must be exactly 32 bytes for
   ECDSA_SHA_256). The patch signs the given bytes as a prehash
   (`ec.ECDSA(Prehashed(SHA256()))`) and rejects a digest of the wrong
   length with KMS's ValidationException. With `--unpatched-digest` this
   patch is left out, so the emulator behaves like stock moto: the
   fail-closed test uses that to get signatures that do not recover to the
   key (exactly what a KMS that re-hashes the digest would return).

2. No key import (`patch_seed`). moto cannot import key material
   (ImportKeyMaterial is for symmetric keys only, and there is no
   EXTERNAL-origin asymmetric import), so a test could never sign with a
   known key such as vectors.md §C. The patch lets `CreateKey` seed the
   private scalar: a tag `livepeer-signer-test:private-key-hex = <64 hex>`
   on an ECC_SECG_P256K1 key replaces the generated key with that one (the
   tag is consumed, not stored). Test-only: real KMS never sees this tag.

3. Key state and key policy are not enforced on Sign/GetPublicKey
   (`patch_state_and_policy`). moto signs with a Disabled or
   PendingDeletion key, and evaluates key-policy Deny statements for
   DescribeKey only. Real KMS answers DisabledException,
   KMSInvalidStateException and AccessDeniedException. The patch raises
   those, so the error mapping is tested against the real wire errors.

Patches 2 and 3 are always on; they only add behaviour real KMS has.

Test-only fault injection (`patch_throttle`): a CreateKey tag
`livepeer-signer-test:throttle-sign = <n>` makes the next n Sign calls on
that key answer ThrottlingException (HTTP 400, as KMS does), so the retry
and backoff path is exercised against the real wire error.
"""

import argparse
import logging
import os
import sys
import threading

try:
    from moto.kms import models as kms_models
    from moto.kms import policy_validator
    from moto.kms import responses as kms_responses
    from moto.kms import utils as kms_utils
    from moto.core.exceptions import JsonRESTError
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
except ImportError as e:  # pragma: no cover - reported by the Rust harness
    sys.stderr.write(
        f"kms_emulator: {sys.executable} cannot import moto ({e}); run scripts/test.sh "
        "(it installs tests/requirements.txt into .tools/venv and sets TEST_PYTHON)\n"
    )
    sys.exit(3)


def check_moto_version():
    """The patches below reach into moto's internals: run only on the moto
    pinned in tests/requirements.txt."""
    import moto

    req = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "requirements.txt")
    with open(req, encoding="utf-8") as f:
        pins = [
            line.split("==", 1)[1].strip()
            for line in f
            if line.split("==", 1)[0].strip() in ("moto", "moto[server]") and "==" in line
        ]
    if len(pins) != 1:
        sys.stderr.write(f"kms_emulator: no exact moto pin found in {req}\n")
        sys.exit(3)
    if moto.__version__ != pins[0]:
        sys.stderr.write(
            f"kms_emulator: {sys.executable} has moto {moto.__version__}, but "
            f"tests/requirements.txt pins {pins[0]} (these patches are written against it); "
            "run scripts/test.sh, which installs the pinned version into .tools/venv and sets TEST_PYTHON\n"
        )
        sys.exit(3)

SEED_TAG = "livepeer-signer-test:private-key-hex"
THROTTLE_TAG = "livepeer-signer-test:throttle-sign"

# Key id -> how many more Sign calls to throttle.
_throttle: dict = {}
_throttle_lock = threading.Lock()

# The MessageType of the request being handled, per server thread.
_request = threading.local()


def patch_digest() -> None:
    """Gap 1: sign MessageType=DIGEST messages as a prehash, as KMS does."""
    original_response_sign = kms_responses.KmsResponse.sign

    def response_sign(self):  # type: ignore[no-untyped-def]
        message_type = self._get_param("MessageType") or "RAW"
        _request.digest = message_type == "DIGEST"
        try:
            return original_response_sign(self)
        finally:
            _request.digest = False

    original_key_sign = kms_utils.ECDSAPrivateKey.sign

    def key_sign(self, message: bytes, signing_algorithm: str) -> bytes:
        if not getattr(_request, "digest", False):
            return original_key_sign(self, message, signing_algorithm)
        algorithms = {
            "ECDSA_SHA_256": hashes.SHA256(),
            "ECDSA_SHA_384": hashes.SHA384(),
            "ECDSA_SHA_512": hashes.SHA512(),
        }
        kms_utils.validate_signing_algorithm(
            signing_algorithm, self.valid_signing_algorithms
        )
        algorithm = algorithms[signing_algorithm]
        if len(message) != algorithm.digest_size:
            raise kms_models.ValidationException(
                f"Digest is invalid length for algorithm {signing_algorithm}."
            )
        return self.private_key.sign(message, ec.ECDSA(Prehashed(algorithm)))

    kms_responses.KmsResponse.sign = response_sign
    kms_utils.ECDSAPrivateKey.sign = key_sign


def patch_seed() -> None:
    """Gap 2: CreateKey with the seed tag uses that secp256k1 private key."""
    original_create_key = kms_models.KmsBackend.create_key

    def create_key(self, policy, key_usage, key_spec, description, tags, *args, **kwargs):  # type: ignore[no-untyped-def]
        seed = None
        if tags:
            rest = []
            for tag in tags:
                if tag.get("TagKey") == SEED_TAG:
                    seed = tag.get("TagValue", "")
                else:
                    rest.append(tag)
            tags = rest
        if seed is not None and key_spec != "ECC_SECG_P256K1":
            raise kms_models.ValidationException(
                f"{SEED_TAG} needs KeySpec ECC_SECG_P256K1, not {key_spec}"
            )
        key = original_create_key(
            self, policy, key_usage, key_spec, description, tags, *args, **kwargs
        )
        if seed is not None:
            try:
                scalar = int(seed, 16)
            except ValueError:
                raise kms_models.ValidationException(f"{SEED_TAG}: not hex")
            key.private_key.private_key = ec.derive_private_key(scalar, ec.SECP256K1())
        return key

    kms_models.KmsBackend.create_key = create_key


def _check_usable(key, action: str) -> None:  # type: ignore[no-untyped-def]
    policy_validator.validate_policy(key, action)
    if key.key_state == "Disabled":
        raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
    if key.key_state != "Enabled":
        state = {"PendingDeletion": "pending deletion", "PendingImport": "pending import"}
        raise JsonRESTError(
            "KMSInvalidStateException",
            f"{key.arn} is {state.get(key.key_state, key.key_state)}.",
        )


def patch_state_and_policy() -> None:
    """Gap 3: key state and key-policy Deny checks on Sign and GetPublicKey."""
    for action in ("kms:Sign", "kms:GetPublicKey"):
        policy_validator.ALTERNATIVE_ACTIONS[action] = ["kms:*", action]

    original_sign = kms_models.KmsBackend.sign
    original_get_public_key = kms_models.KmsBackend.get_public_key

    def sign(self, key_id, message, signing_algorithm):  # type: ignore[no-untyped-def]
        _check_usable(self.describe_key(key_id), "kms:Sign")
        return original_sign(self, key_id, message, signing_algorithm)

    def get_public_key(self, key_id):  # type: ignore[no-untyped-def]
        _check_usable(self.describe_key(key_id), "kms:GetPublicKey")
        return original_get_public_key(self, key_id)

    kms_models.KmsBackend.sign = sign
    kms_models.KmsBackend.get_public_key = get_public_key


def patch_throttle() -> None:
    """Fault injection: throttle the next n Sign calls of a tagged key."""
    original_create_key = kms_models.KmsBackend.create_key

    def create_key(self, policy, key_usage, key_spec, description, tags, *args, **kwargs):  # type: ignore[no-untyped-def]
        n = 0
        if tags:
            n = sum(int(t.get("TagValue", "0")) for t in tags if t.get("TagKey") == THROTTLE_TAG)
            tags = [t for t in tags if t.get("TagKey") != THROTTLE_TAG]
        key = original_create_key(
            self, policy, key_usage, key_spec, description, tags, *args, **kwargs
        )
        if n:
            with _throttle_lock:
                _throttle[key.id] = n
        return key

    original_sign = kms_models.KmsBackend.sign

    def sign(self, key_id, message, signing_algorithm):  # type: ignore[no-untyped-def]
        key = self.describe_key(key_id)
        with _throttle_lock:
            left = _throttle.get(key.id, 0)
            if left:
                _throttle[key.id] = left - 1
        if left:
            raise JsonRESTError("ThrottlingException", "Rate exceeded")
        return original_sign(self, key_id, message, signing_algorithm)

    kms_models.KmsBackend.create_key = create_key
    kms_models.KmsBackend.sign = sign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--unpatched-digest",
        action="store_true",
        help="leave moto's DIGEST handling as is (it hashes the digest again)",
    )
    args = parser.parse_args()

    check_moto_version()
    if not args.unpatched_digest:
        patch_digest()
    patch_seed()
    patch_state_and_policy()
    patch_throttle()

    # Werkzeug logs every request on stderr; keep only errors.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    # Serve until the harness kills this process by its PID.
    threading.Event().wait()


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    main()
