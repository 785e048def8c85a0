// SPDX-License-Identifier: Apache-2.0
// Test stand-in for Livepeer's RoundsManager: rounds are `roundLength`
// blocks long; `initializeRound()` records the round and the hash of the
// previous block and emits NewRound with Livepeer's signature. Written for
// livepeer-signer's tests.
pragma solidity ^0.8.20;

contract RoundsManager {
    uint256 public roundLength;
    uint256 public lastInitializedRound;
    mapping(uint256 => bytes32) private roundBlockHashes;

    event NewRound(uint256 indexed round, bytes32 blockHash);

    constructor(uint256 _roundLength) {
        require(_roundLength > 0, "round length cannot be 0");
        roundLength = _roundLength;
    }

    /// The round the current block is in.
    function currentRound() public view returns (uint256) {
        return block.number / roundLength;
    }

    /// The first block of the current round.
    function currentRoundStartBlock() public view returns (uint256) {
        return currentRound() * roundLength;
    }

    /// Whether the current round has been initialized.
    function currentRoundInitialized() public view returns (bool) {
        return lastInitializedRound == currentRound();
    }

    /// Initializes the current round (Livepeer's revert reason when it is).
    function initializeRound() external {
        uint256 round = currentRound();
        require(lastInitializedRound < round, "round already initialized");
        bytes32 hash = blockhash(block.number - 1);
        lastInitializedRound = round;
        roundBlockHashes[round] = hash;
        emit NewRound(round, hash);
    }

    /// The block hash recorded when `_round` was initialized (zero if never).
    function blockHashForRound(uint256 _round) external view returns (bytes32) {
        return roundBlockHashes[_round];
    }
}
