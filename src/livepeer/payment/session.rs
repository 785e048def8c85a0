//! Session bookkeeping of `/generate-live-payment` (spec §3.4 steps 13–14,
//! §3.8 nonce rules, §10 #4028): the nonce base, the `PMSessionID` string
//! and the refresh check that yields HTTP 480.
//!
//! Nothing here is hashed or signed; `PMSessionID` and the nonces end up
//! in the signed state and in the tickets.

use alloy_primitives::B256;

use super::params::{validate_ticket_params, ChainInputs, InvalidTicketParams, Limits, TicketParams};
use super::state::{GoTime, RemotePaymentState};
use crate::eth::hex;
use crate::livepeer::proto;

/// Refresh once `now > auth_token.expiration − 180 s` (10 % of go-livepeer's
/// 30-minute `authTokenValidPeriod`).
pub const AUTH_TOKEN_REFRESH_MARGIN_SECS: i64 = 180;

/// Refresh once a session's nonce base reaches this value (go-livepeer
/// #4028): orchestrators accept at most 600 nonces per recipient rand hash
/// and one call may carry 100 tickets.
pub const NONCE_REFRESH_THRESHOLD: u32 = 500;

/// `PMSessionID` for ticket params with `recipient_rand_hash`: `0x` + 64
/// lowercase hex (go-ethereum `Hash.Hex()`).
pub fn pm_session_id(recipient_rand_hash: &B256) -> String {
    hex::encode_0x(recipient_rand_hash)
}

/// Step 13: the state's `SenderNonce` if its `PMSessionID` names these
/// ticket params (exact string comparison, as in Go), else 0. The batch's
/// tickets then use `nonce0 + 1 ..= nonce0 + n`.
pub fn nonce_base(state: &RemotePaymentState, recipient_rand_hash: &B256) -> u32 {
    if state.pm_session_id == pm_session_id(recipient_rand_hash) {
        state.sender_nonce
    } else {
        0
    }
}

/// Why the gateway must refresh its OrchestratorInfo (HTTP 480 with
/// `Livepeer-Orchestrator-URL: <transcoder>`, message
/// `refresh session for remote signer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReason {
    /// The O's auth token is within its last 180 s or past it.
    AuthTokenExpiring,
    /// `validateTicketParams(params, 1)` returned `TicketParams expired`.
    TicketParamsExpired,
    /// The nonce base reached [`NONCE_REFRESH_THRESHOLD`].
    NonceCap,
}

/// The refresh check could not be made (HTTP 400, the message prefixed with
/// `remote signer could not check whether to refresh session: `).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefreshCheckError {
    /// `OrchestratorInfo.auth_token` is absent.
    #[error("missing auth token")]
    MissingAuthToken,
    /// Ticket params invalid for a reason other than expiry.
    #[error(transparent)]
    InvalidParams(#[from] InvalidTicketParams),
}

/// go-livepeer's `shouldRefreshSession` (step 14): auth token first
/// (`now` strictly after `expiration − 180 s`), then
/// `validate_ticket_params(params, 1)`, where only `Expired` means refresh.
pub fn should_refresh(
    now: GoTime,
    auth_token: Option<&proto::AuthToken>,
    params: &TicketParams,
    chain: &ChainInputs,
    limits: &Limits,
) -> Result<Option<RefreshReason>, RefreshCheckError> {
    let token = auth_token.ok_or(RefreshCheckError::MissingAuthToken)?;
    let refresh_point = token.expiration.saturating_sub(AUTH_TOKEN_REFRESH_MARGIN_SECS);
    if now.0.unix_timestamp_nanos() > i128::from(refresh_point) * 1_000_000_000 {
        return Ok(Some(RefreshReason::AuthTokenExpiring));
    }
    match validate_ticket_params(params, 1, chain, limits) {
        Ok(()) => Ok(None),
        Err(InvalidTicketParams::Expired) => Ok(Some(RefreshReason::TicketParamsExpired)),
        Err(e) => Err(e.into()),
    }
}

/// The #4028 guard: `Some(NonceCap)` once `nonce0 >= 500`.
pub fn nonce_refresh(nonce0: u32) -> Option<RefreshReason> {
    (nonce0 >= NONCE_REFRESH_THRESHOLD).then_some(RefreshReason::NonceCap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::Address;
    use crate::livepeer::payment::params::{ExpirationParams, SenderInfo};
    use alloy_primitives::U256;

    fn params(expiration_block: u64) -> TicketParams {
        TicketParams {
            recipient: Address::ZERO,
            face_value: U256::from(100),
            win_prob: U256::MAX / U256::from(2),
            recipient_rand_hash: B256::repeat_byte(0xc6),
            seed: U256::ZERO,
            expiration_block: U256::from(expiration_block),
            expiration_params: ExpirationParams::default(),
        }
    }

    fn chain() -> ChainInputs {
        ChainInputs {
            last_seen_l1_block: U256::from(100),
            last_initialized_round: U256::from(5),
            round_block_hash: B256::ZERO,
            sender: Some(SenderInfo {
                deposit: U256::from(1000),
                withdraw_round: U256::ZERO,
                reserve: U256::from(1000),
                claimed_in_current_round: U256::ZERO,
            }),
        }
    }

    fn token(expiration: i64) -> proto::AuthToken {
        proto::AuthToken {
            token: b"foo".to_vec(),
            session_id: "bar".into(),
            expiration,
        }
    }

    #[test]
    fn pm_session_id_and_nonce_base() {
        let rrh = B256::from(
            hex::decode_array::<32>("c65a7bb8d6351c1cf70c95a316cc6a92839c986682d98bc35f958f4883f9d2a8")
                .unwrap(),
        );
        let id = pm_session_id(&rrh);
        assert_eq!(
            id,
            "0xc65a7bb8d6351c1cf70c95a316cc6a92839c986682d98bc35f958f4883f9d2a8"
        );
        let mut st = RemotePaymentState {
            pm_session_id: id.clone(),
            sender_nonce: 7,
            ..Default::default()
        };
        assert_eq!(nonce_base(&st, &rrh), 7);
        assert_eq!(nonce_base(&st, &B256::ZERO), 0);
        st.pm_session_id = id.to_uppercase().replace("0X", "0x");
        assert_eq!(nonce_base(&st, &rrh), 0, "exact string comparison");
        assert_eq!(nonce_refresh(499), None);
        assert_eq!(nonce_refresh(500), Some(RefreshReason::NonceCap));
    }

    #[test]
    fn refresh_check() {
        let limits = Limits::default();
        let now = GoTime::parse("2026-01-02T03:00:00Z").unwrap();
        let t = now.0.unix_timestamp();
        let ok = params(105);
        assert_eq!(
            should_refresh(now, None, &ok, &chain(), &limits),
            Err(RefreshCheckError::MissingAuthToken)
        );
        assert_eq!(
            RefreshCheckError::MissingAuthToken.to_string(),
            "missing auth token"
        );
        // Token valid for an hour: no refresh.
        assert_eq!(
            should_refresh(now, Some(&token(t + 3600)), &ok, &chain(), &limits),
            Ok(None)
        );
        // Exactly at the refresh point: not after it, no refresh; one nanosecond later: refresh.
        assert_eq!(
            should_refresh(now, Some(&token(t + 180)), &ok, &chain(), &limits),
            Ok(None)
        );
        let later = GoTime(now.0 + time::Duration::nanoseconds(1));
        assert_eq!(
            should_refresh(later, Some(&token(t + 180)), &ok, &chain(), &limits),
            Ok(Some(RefreshReason::AuthTokenExpiring))
        );
        // Expired one minute ago (B1 line 198).
        assert_eq!(
            should_refresh(now, Some(&token(t - 60)), &ok, &chain(), &limits),
            Ok(Some(RefreshReason::AuthTokenExpiring))
        );
        // Ticket params expired (B1 line 213).
        assert_eq!(
            should_refresh(now, Some(&token(t + 3600)), &params(101), &chain(), &limits),
            Ok(Some(RefreshReason::TicketParamsExpired))
        );
        // Other validation errors are errors, not refreshes.
        let err = should_refresh(now, Some(&token(t + 3600)), &params(0), &chain(), &limits).unwrap_err();
        assert_eq!(err.to_string(), "ticketParams expiration block is 0");
        // The auth token is checked before the ticket params.
        assert_eq!(
            should_refresh(now, Some(&token(t - 60)), &params(0), &chain(), &limits),
            Ok(Some(RefreshReason::AuthTokenExpiring))
        );
        assert_eq!(
            should_refresh(now, Some(&token(i64::MIN)), &ok, &chain(), &limits),
            Ok(Some(RefreshReason::AuthTokenExpiring))
        );
    }
}
