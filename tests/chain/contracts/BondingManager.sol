// SPDX-License-Identifier: Apache-2.0
// Test stand-in for Livepeer's BondingManager, discovery side: the
// transcoder pool (a linked list walked with getFirstTranscoderInPool /
// getNextTranscoderInPool, address(0) after the last), getTranscoder,
// getTranscoderPoolSize and isActiveTranscoder (activationRound <=
// RoundsManager.currentRound() < deactivationRound, the RoundsManager found
// through the Controller). The view ABI follows Livepeer's contract; the
// code is our own. There is no bonding or stake: the pool is in insertion
// order (Livepeer's is sorted by stake) and is set by the owner through the
// test-only setTranscoder / removeTranscoder. Written for livepeer-signer's
// tests.
pragma solidity ^0.8.20;

interface IBondingController {
    function getContract(bytes32 _id) external view returns (address);
}

interface IBondingRoundsManager {
    function currentRound() external view returns (uint256);
}

contract BondingManager {
    struct Transcoder {
        uint256 lastRewardRound;
        uint256 rewardCut;
        uint256 feeShare;
        uint256 lastActiveStakeUpdateRound;
        uint256 activationRound;
        uint256 deactivationRound;
        uint256 activeCumulativeRewards;
        uint256 cumulativeRewards;
        uint256 cumulativeFees;
        uint256 lastFeeRound;
    }

    struct Node {
        address next;
        address prev;
        bool inPool;
    }

    address public owner;
    IBondingController public controller;

    mapping(address => Transcoder) private transcoders;
    mapping(address => Node) private pool;
    address private head;
    address private tail;
    uint256 private size;

    event TranscoderActivated(address indexed transcoder, uint256 activationRound);
    event TranscoderDeactivated(address indexed transcoder, uint256 deactivationRound);

    constructor(address _controller) {
        owner = msg.sender;
        controller = IBondingController(_controller);
    }

    function roundsManager() internal view returns (IBondingRoundsManager) {
        address rm = controller.getContract(keccak256("RoundsManager"));
        require(rm != address(0), "RoundsManager not registered");
        return IBondingRoundsManager(rm);
    }

    // ---- test-only setters

    /// Puts `_transcoder` in the pool (appended at the end when it is not
    /// there yet) with these activation and deactivation rounds.
    function setTranscoder(address _transcoder, uint256 _activationRound, uint256 _deactivationRound) external {
        require(msg.sender == owner, "caller must be owner");
        require(_transcoder != address(0), "transcoder is null address");
        Node storage n = pool[_transcoder];
        if (!n.inPool) {
            n.inPool = true;
            n.prev = tail;
            if (tail == address(0)) {
                head = _transcoder;
            } else {
                pool[tail].next = _transcoder;
            }
            tail = _transcoder;
            size += 1;
        }
        Transcoder storage t = transcoders[_transcoder];
        t.activationRound = _activationRound;
        t.deactivationRound = _deactivationRound;
        emit TranscoderActivated(_transcoder, _activationRound);
    }

    /// Takes `_transcoder` out of the pool and forgets its rounds.
    function removeTranscoder(address _transcoder) external {
        require(msg.sender == owner, "caller must be owner");
        Node memory n = pool[_transcoder];
        require(n.inPool, "transcoder not in pool");
        if (n.prev == address(0)) {
            head = n.next;
        } else {
            pool[n.prev].next = n.next;
        }
        if (n.next == address(0)) {
            tail = n.prev;
        } else {
            pool[n.next].prev = n.prev;
        }
        delete pool[_transcoder];
        delete transcoders[_transcoder];
        size -= 1;
        emit TranscoderDeactivated(_transcoder, 0);
    }

    // ---- Livepeer's views

    function getFirstTranscoderInPool() external view returns (address) {
        return head;
    }

    function getNextTranscoderInPool(address _transcoder) external view returns (address) {
        return pool[_transcoder].next;
    }

    function getTranscoderPoolSize() external view returns (uint256) {
        return size;
    }

    function getTranscoder(address _transcoder)
        external
        view
        returns (
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
        )
    {
        Transcoder storage t = transcoders[_transcoder];
        lastRewardRound = t.lastRewardRound;
        rewardCut = t.rewardCut;
        feeShare = t.feeShare;
        lastActiveStakeUpdateRound = t.lastActiveStakeUpdateRound;
        activationRound = t.activationRound;
        deactivationRound = t.deactivationRound;
        activeCumulativeRewards = t.activeCumulativeRewards;
        cumulativeRewards = t.cumulativeRewards;
        cumulativeFees = t.cumulativeFees;
        lastFeeRound = t.lastFeeRound;
    }

    function isActiveTranscoder(address _transcoder) public view returns (bool) {
        Transcoder storage t = transcoders[_transcoder];
        uint256 currentRound = roundsManager().currentRound();
        return t.activationRound <= currentRound && currentRound < t.deactivationRound;
    }
}
