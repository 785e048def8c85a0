//! Probabilistic-micropayment tickets (go-livepeer `pm/ticket.go`, spec §3.8).
//!
//! What is hashed: [`Ticket::hash`] is `keccak256` of the Solidity
//! `abi.encodePacked` layout
//!
//! ```text
//! offset  size  field
//! 0       20    recipient
//! 20      20    sender
//! 40      32    face_value           uint256 big-endian
//! 72      32    win_prob             uint256 big-endian
//! 104     32    sender_nonce         uint32 value as uint256 big-endian
//! 136     32    recipient_rand_hash
//! 168     0|64  aux_data             uint256(creation_round) ‖ creation_round_block_hash
//! ```
//!
//! What is signed: go-livepeer's `Eth.Sign(hash)`, i.e. ECDSA secp256k1 over
//! [`Ticket::digest`] = `TextHash(hash)` (EIP-191, length field `"32"`), in
//! the 65-byte `r‖s‖v` form with low s and `v ∈ {27, 28}`. The TicketBroker
//! and orchestrators verify exactly that. Chain id, broker address, seed and
//! expiration block are **not** part of the hash.

use alloy_primitives::{B256, U256};
use num_bigint::BigInt;

use super::rat::{u256_to_bigint, Rat};
use crate::eth::{keccak256, text_hash, Address};

/// `2^256 − 1`, the win probability of a ticket that always wins.
pub const MAX_WIN_PROB: U256 = U256::MAX;

/// One ticket, as the sender hashes and signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// The orchestrator's ticket recipient (`ticket_params.recipient`).
    pub recipient: Address,
    /// The signer's own address.
    pub sender: Address,
    /// Wei paid if the ticket wins.
    pub face_value: U256,
    /// Win probability numerator, out of [`MAX_WIN_PROB`].
    pub win_prob: U256,
    /// Nonce, unique per `recipient_rand_hash`.
    pub sender_nonce: u32,
    /// `keccak256(uint256(recipientRand))`, the O's commitment.
    pub recipient_rand_hash: B256,
    /// Round the ticket was created in.
    pub creation_round: i64,
    /// Block hash of that round's start block.
    pub creation_round_block_hash: B256,
}

impl Ticket {
    /// `AuxData`: `uint256_be(creation_round) ‖ creation_round_block_hash`
    /// (64 bytes), or empty when the round is 0 **and** the hash is zero.
    /// A negative round is written as its absolute value, as Go's
    /// `big.Int.Bytes()` does (the round is never negative on chain).
    pub fn aux_data(&self) -> Vec<u8> {
        if self.creation_round == 0 && self.creation_round_block_hash.is_zero() {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(64);
        let round = U256::from(self.creation_round.unsigned_abs());
        out.extend_from_slice(&round.to_be_bytes::<32>());
        out.extend_from_slice(self.creation_round_block_hash.as_slice());
        out
    }

    /// The `abi.encodePacked` bytes that are hashed: 168 bytes, or 232 with
    /// aux data (layout in the module docs).
    pub fn packed(&self) -> Vec<u8> {
        let aux = self.aux_data();
        let mut out = Vec::with_capacity(168 + aux.len());
        out.extend_from_slice(self.recipient.as_bytes());
        out.extend_from_slice(self.sender.as_bytes());
        out.extend_from_slice(&self.face_value.to_be_bytes::<32>());
        out.extend_from_slice(&self.win_prob.to_be_bytes::<32>());
        out.extend_from_slice(&U256::from(self.sender_nonce).to_be_bytes::<32>());
        out.extend_from_slice(self.recipient_rand_hash.as_slice());
        out.extend_from_slice(&aux);
        out
    }

    /// The ticket hash: `keccak256(packed())`.
    pub fn hash(&self) -> B256 {
        B256::from(keccak256(self.packed()))
    }

    /// The 32-byte digest the key signs for this ticket:
    /// `TextHash(hash)` = `keccak256("\x19Ethereum Signed Message:\n32" ‖ hash)`.
    /// Hand it to `Signer::sign_digest`; the resulting `r‖s‖v` is the
    /// `TicketSenderParams.sig`.
    pub fn digest(&self) -> [u8; 32] {
        text_hash(self.hash())
    }

    /// Expected value in wei: `face_value × win_prob / (2^256 − 1)`, exact.
    pub fn ev(&self) -> Rat {
        ticket_ev(self.face_value, self.win_prob)
    }
}

/// `ticketEV`: `face_value × win_prob / (2^256 − 1)` as an exact rational.
pub fn ticket_ev(face_value: U256, win_prob: U256) -> Rat {
    &Rat::from_u256(face_value) * &win_prob_rat(win_prob)
}

/// `winProbRat`: `win_prob / (2^256 − 1)`, exact.
pub fn win_prob_rat(win_prob: U256) -> Rat {
    Rat::from_frac(u256_to_bigint(win_prob), u256_to_bigint(MAX_WIN_PROB)).expect("2^256 − 1 is not zero")
}

/// `recipientRandHash = keccak256(uint256_be(recipient_rand))`, the
/// commitment an orchestrator publishes in `TicketParams`.
pub fn recipient_rand_hash(recipient_rand: U256) -> B256 {
    B256::from(keccak256(recipient_rand.to_be_bytes::<32>()))
}

/// The integer part of a non-negative rational, for `FloatString(0)`-style
/// checks in tests and logs.
pub fn ev_floor(ev: &Rat) -> BigInt {
    ev.numer() / ev.denom()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::hex;
    use crate::eth::verify_sig;

    fn b256(s: &str) -> B256 {
        B256::from(hex::decode_array::<32>(s).unwrap())
    }

    fn addr(s: &str) -> Address {
        s.parse().unwrap()
    }

    fn zero_ticket() -> Ticket {
        Ticket {
            recipient: Address::ZERO,
            sender: Address::ZERO,
            face_value: U256::ZERO,
            win_prob: U256::ZERO,
            sender_nonce: 0,
            recipient_rand_hash: B256::ZERO,
            creation_round: 0,
            creation_round_block_hash: B256::ZERO,
        }
    }

    const H: &str = "7624778dedc75f8b322b9fa1632a610d40b85e106c7d9bf0e743a9ce291b9c6f";

    #[test]
    fn a2_aux_data() {
        let h = b256(H);
        let zeros = [0u8; 32];
        let mut round5 = [0u8; 32];
        round5[31] = 5;
        let cases: [(i64, B256, Vec<u8>); 4] = [
            (0, h, [zeros.as_slice(), h.as_slice()].concat()),
            (5, B256::ZERO, [round5.as_slice(), zeros.as_slice()].concat()),
            (0, B256::ZERO, Vec::new()),
            (5, h, [round5.as_slice(), h.as_slice()].concat()),
        ];
        for (round, hash, want) in cases {
            let t = Ticket {
                creation_round: round,
                creation_round_block_hash: hash,
                ..zero_ticket()
            };
            assert_eq!(t.aux_data(), want, "round {round}");
        }
        let five = hex::encode(
            Ticket {
                creation_round: 5,
                creation_round_block_hash: h,
                ..zero_ticket()
            }
            .aux_data(),
        );
        assert_eq!(
            five,
            format!("0000000000000000000000000000000000000000000000000000000000000005{H}")
        );
    }

    #[test]
    fn a3_hashes() {
        let rrh = b256("41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d");
        let cases = [
            (
                Ticket {
                    sender_nonce: u32::MAX,
                    ..zero_ticket()
                },
                "e1393fc7f6de093780674022f96cb8e3872235167d037c04d554e58c0e63d280",
            ),
            (
                Ticket {
                    sender_nonce: 1,
                    ..zero_ticket()
                },
                "ce0918ba94518293e9712effbe5fca4f1f431089833a5b8c257cb1e024595f68",
            ),
            (
                Ticket {
                    face_value: U256::from(1),
                    win_prob: U256::from(500),
                    ..zero_ticket()
                },
                "87ef13f2d37e4d5352a01d3c77b8179d80e0887f1953bfabfd0bfd7b0f689ddd",
            ),
            (
                Ticket {
                    face_value: U256::from(500),
                    win_prob: U256::from(1),
                    ..zero_ticket()
                },
                "aa4b35071043587992ac8b9dd1b2cf1d8311130e6458cf0b2342484e21af5f5b",
            ),
            (
                Ticket {
                    recipient: addr("73AEd7b5dEb30222fa896f399d46cC99c7BEe57F"),
                    ..zero_ticket()
                },
                "81e353ae39046e2b77b9f996abbaeed527fda559b61ef90f299c4499dd508ccc",
            ),
            (
                Ticket {
                    recipient_rand_hash: rrh,
                    ..zero_ticket()
                },
                "be5eaf9a49a39540b9bb02f1a21904f61324a29819e2c032824bfaa10c100b17",
            ),
            (
                Ticket {
                    creation_round: 10,
                    creation_round_block_hash: rrh,
                    ..zero_ticket()
                },
                "e502907c16036ab3d11b78c5a2e93c20f3d6415c67f91de4ed01348182b3b2e2",
            ),
        ];
        for (i, (t, want)) in cases.iter().enumerate() {
            assert_eq!(t.packed().len(), if i == 6 { 232 } else { 168 });
            assert_eq!(hex::encode(t.hash()), *want, "A3 #{}", i + 1);
        }
    }

    fn a5_ticket() -> Ticket {
        Ticket {
            recipient: addr("0xa5E37e0BA14655e92DEff29F32adbc7D09b8a2cF"),
            sender: addr("0x3eE860A4abA830AF84EbBCE2b381fc11DB8493e2"),
            face_value: U256::from(10_000_000_000_000_000u64),
            win_prob: "11579208923731619542357098500868790785326998466564056403945759000000000000"
                .parse()
                .unwrap(),
            sender_nonce: 14,
            recipient_rand_hash: b256("5309662eee5608da45aaefe60433adec052acab8683dd12d78aad8a0192b3bec"),
            creation_round: 1619,
            creation_round_block_hash: b256(
                "f3b1d2925fd1325a8a6ba8923fbe6de31dd93d9e85540eaf5a306f21177c3b8c",
            ),
        }
    }

    #[test]
    fn a5_redeemed_ticket() {
        let t = a5_ticket();
        assert_eq!(
            hex::encode(t.aux_data()),
            "0000000000000000000000000000000000000000000000000000000000000653\
             f3b1d2925fd1325a8a6ba8923fbe6de31dd93d9e85540eaf5a306f21177c3b8c"
        );
        assert_eq!(
            hex::encode(t.hash()),
            "d5104bbecf755deaa03acf83486f2414d749f5e9d98b9feb9a0ad3791413f7e4"
        );
        assert_eq!(t.digest(), text_hash(t.hash()));
        let sig = hex::decode(
            "90cb8a9280386cc77e9f3473bb87530cf9a1dbe5625013a9ed16675ad7607c80\
             0bf4e32ee4cc6b9c785e1c786c9965831a8216c408b251f98d6c18bf1bf4d1621c",
        )
        .unwrap();
        // VerifySig(sender, hash, sig): TextHash over the 32-byte hash.
        verify_sig(&t.sender, t.hash().as_slice(), &sig).expect("the redeemed ticket's signature verifies");
        let rand: U256 = "31838803992704255588716800748284438047369588248489535212488229909862636233406"
            .parse()
            .unwrap();
        assert_eq!(recipient_rand_hash(rand), t.recipient_rand_hash);
        // EV just above 10^12 wei.
        let ev = t.ev();
        assert!(ev > Rat::from_integer(1_000_000_000_000i64));
        assert_eq!(ev_floor(&ev), BigInt::from(1_000_000_000_000i64));
        assert_eq!(ev.float_string(0), "1000000000000");
    }

    #[test]
    fn a4_ev_and_win_prob() {
        let fv = U256::from(1000);
        assert_eq!(ticket_ev(fv, MAX_WIN_PROB / U256::from(2)).float_string(0), "500");
        assert_eq!(ticket_ev(fv, U256::ZERO).float_string(0), "0");
        assert_eq!(ticket_ev(fv, U256::ZERO), Rat::zero());
        assert_eq!(ticket_ev(fv, MAX_WIN_PROB).rat_string(), "1000");
        assert_eq!(ticket_ev(U256::ZERO, U256::from(999)), Rat::zero());
        assert_eq!(win_prob_rat(MAX_WIN_PROB / U256::from(2)).float_string(1), "0.5");
        assert_eq!(win_prob_rat(MAX_WIN_PROB / U256::from(4)).float_string(2), "0.25");
        assert_eq!(win_prob_rat(U256::ZERO), Rat::zero());
        assert_eq!(win_prob_rat(MAX_WIN_PROB).rat_string(), "1");
        // ⌊max/2⌋ / max is just below ½, exactly.
        assert!(win_prob_rat(MAX_WIN_PROB / U256::from(2)) < Rat::from_frac(1, 2).unwrap());
    }

    #[test]
    fn a6_recipient_rand_hash() {
        assert_eq!(
            hex::encode(recipient_rand_hash(U256::from(10))),
            "c65a7bb8d6351c1cf70c95a316cc6a92839c986682d98bc35f958f4883f9d2a8"
        );
    }

    #[test]
    fn negative_round_is_written_as_its_absolute_value() {
        let t = Ticket {
            creation_round: -1,
            ..zero_ticket()
        };
        let one = Ticket {
            creation_round: 1,
            ..zero_ticket()
        };
        assert_eq!(t.aux_data(), one.aux_data());
    }
}
