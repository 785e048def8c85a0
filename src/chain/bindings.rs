//! The Livepeer contract functions and events the signer uses, as `sol!`
//! bindings (alloy does the ABI encoding). Signatures follow Livepeer's
//! protocol contracts (Controller, RoundsManager, TicketBroker, and the BondingManager /
//! ServiceRegistry reads of orchestrator discovery).
#![allow(missing_docs)] // generated items; each function is named after the contract's

use alloy_sol_types::sol;

sol! {
    /// Livepeer's contract registry.
    interface IController {
        /// The address registered under `keccak256(name)`, zero when none is.
        function getContract(bytes32 id) external view returns (address);
    }

    /// Livepeer's rounds.
    interface IRoundsManager {
        /// The last round that was initialized.
        function lastInitializedRound() external view returns (uint256);
        /// The round the current block is in (TicketBroker's unlock and
        /// withdraw rules use it).
        function currentRound() external view returns (uint256);
        /// The block hash recorded for `round` (zero if none).
        function blockHashForRound(uint256 round) external view returns (bytes32);
        /// A round was initialized.
        event NewRound(uint256 indexed round, bytes32 blockHash);
    }

    /// Livepeer's TicketBroker, sender side.
    interface ITicketBroker {
        /// A sender's deposit and withdraw round.
        struct Sender {
            uint256 deposit;
            uint256 withdrawRound;
        }
        /// A sender's reserve.
        struct ReserveInfo {
            uint256 fundsRemaining;
            uint256 claimedInCurrentRound;
        }

        function fundDeposit() external payable;
        function fundReserve() external payable;
        function fundDepositAndReserve(uint256 depositAmount, uint256 reserveAmount) external payable;
        function unlock() external;
        function cancelUnlock() external;
        function withdraw() external;
        function isUnlockInProgress(address sender) external view returns (bool);
        function getSenderInfo(address sender) external view returns (Sender memory sender, ReserveInfo memory reserve);

        event DepositFunded(address indexed sender, uint256 amount);
        event ReserveFunded(address indexed reserveHolder, uint256 amount);
        event Unlock(address indexed sender, uint256 startRound, uint256 endRound);
        event UnlockCancelled(address indexed sender);
        event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);
    }

    /// Livepeer's BondingManager: the transcoder pool (a linked list) and
    /// each transcoder's activation rounds.
    interface IBondingManager {
        function getFirstTranscoderInPool() external view returns (address);
        function getNextTranscoderInPool(address transcoder) external view returns (address);
        function getTranscoder(address transcoder) external view returns (
            uint256 lastRewardRound,
            uint256 rewardCut,
            uint256 feeShare,
            uint256 lastActiveStakeUpdateRound,
            uint256 activationRound,
            uint256 deactivationRound,
            uint256 activeCumulativeRewards,
            uint256 cumulativeRewards,
            uint256 cumulativeFees,
            uint256 lastFeeRound
        );
    }

    /// Livepeer's ServiceRegistry: each orchestrator's service URI.
    interface IServiceRegistry {
        function getServiceURI(address addr) external view returns (string);
    }
}
