// SPDX-License-Identifier: Apache-2.0
// Test stand-in for Livepeer's TicketBroker, sender side: deposit and
// reserve funding, unlock / cancel / withdraw with an unlock period in
// rounds, `getSenderInfo`, and a view that checks a winning ticket the way
// `redeemWinningTicket` does (without paying it). The ABI, events and revert
// reasons follow Livepeer's contract; the code is our own and keeps the ETH
// in this contract (no Minter, no BondingManager, no reserve claims).
pragma solidity ^0.8.20;

interface IController {
    function getContract(bytes32 _id) external view returns (address);
}

interface IRoundsManager {
    function currentRound() external view returns (uint256);
    function blockHashForRound(uint256 _round) external view returns (bytes32);
}

contract TicketBroker {
    struct Sender {
        uint256 deposit;
        uint256 withdrawRound;
    }

    struct ReserveInfo {
        uint256 fundsRemaining;
        uint256 claimedInCurrentRound;
    }

    struct Ticket {
        address recipient;
        address sender;
        uint256 faceValue;
        uint256 winProb;
        uint256 senderNonce;
        bytes32 recipientRandHash;
        bytes auxData;
    }

    // secp256k1n / 2: signatures with a larger s are malleable and refused.
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    IController public controller;
    uint256 public unlockPeriod;
    uint256 public ticketValidityPeriod;

    mapping(address => Sender) private senders;
    mapping(address => uint256) private reserves;

    event DepositFunded(address indexed sender, uint256 amount);
    event ReserveFunded(address indexed reserveHolder, uint256 amount);
    event Unlock(address indexed sender, uint256 startRound, uint256 endRound);
    event UnlockCancelled(address indexed sender);
    event Withdrawal(address indexed sender, uint256 deposit, uint256 reserve);

    constructor(address _controller, uint256 _unlockPeriod, uint256 _ticketValidityPeriod) {
        controller = IController(_controller);
        unlockPeriod = _unlockPeriod;
        ticketValidityPeriod = _ticketValidityPeriod;
    }

    function roundsManager() internal view returns (IRoundsManager) {
        address rm = controller.getContract(keccak256("RoundsManager"));
        require(rm != address(0), "RoundsManager not registered");
        return IRoundsManager(rm);
    }

    // ---- funding

    function fundDeposit() external payable {
        addDeposit(msg.sender, msg.value);
    }

    function fundReserve() external payable {
        addReserve(msg.sender, msg.value);
    }

    function fundDepositAndReserve(uint256 _depositAmount, uint256 _reserveAmount) external payable {
        fundDepositAndReserveFor(msg.sender, _depositAmount, _reserveAmount);
    }

    function fundDepositAndReserveFor(address _addr, uint256 _depositAmount, uint256 _reserveAmount) public payable {
        require(
            msg.value == _depositAmount + _reserveAmount,
            "msg.value does not equal sum of deposit amount and reserve amount"
        );
        addDeposit(_addr, _depositAmount);
        addReserve(_addr, _reserveAmount);
    }

    function addDeposit(address _addr, uint256 _amount) private {
        Sender storage s = senders[_addr];
        s.deposit += _amount;
        if (s.withdrawRound > 0) {
            cancel(s, _addr);
        }
        emit DepositFunded(_addr, _amount);
    }

    function addReserve(address _addr, uint256 _amount) private {
        reserves[_addr] += _amount;
        emit ReserveFunded(_addr, _amount);
        Sender storage s = senders[_addr];
        if (s.withdrawRound > 0) {
            cancel(s, _addr);
        }
    }

    // ---- unlock / withdraw

    function unlock() external {
        Sender storage s = senders[msg.sender];
        require(s.deposit > 0 || reserves[msg.sender] > 0, "sender deposit and reserve are zero");
        require(s.withdrawRound == 0, "unlock already initiated");
        uint256 current = roundsManager().currentRound();
        s.withdrawRound = current + unlockPeriod;
        emit Unlock(msg.sender, current, s.withdrawRound);
    }

    function cancelUnlock() external {
        cancel(senders[msg.sender], msg.sender);
    }

    function cancel(Sender storage _s, address _addr) private {
        require(_s.withdrawRound > 0, "no unlock request in progress");
        _s.withdrawRound = 0;
        emit UnlockCancelled(_addr);
    }

    function withdraw() external {
        Sender storage s = senders[msg.sender];
        uint256 deposit = s.deposit;
        uint256 reserve = reserves[msg.sender];
        require(deposit > 0 || reserve > 0, "sender deposit and reserve are zero");
        require(s.withdrawRound > 0, "no unlock request in progress");
        require(roundsManager().currentRound() >= s.withdrawRound, "account is locked");
        s.deposit = 0;
        s.withdrawRound = 0;
        reserves[msg.sender] = 0;
        (bool ok, ) = payable(msg.sender).call{value: deposit + reserve}("");
        require(ok, "withdrawal transfer failed");
        emit Withdrawal(msg.sender, deposit, reserve);
    }

    // ---- views

    function isUnlockInProgress(address _sender) external view returns (bool) {
        return senders[_sender].withdrawRound > 0;
    }

    function getSenderInfo(address _sender) external view returns (Sender memory sender, ReserveInfo memory reserve) {
        sender = senders[_sender];
        reserve = ReserveInfo(reserves[_sender], 0);
    }

    function getTicketHash(Ticket memory _ticket) public pure returns (bytes32) {
        return keccak256(
            abi.encodePacked(
                _ticket.recipient,
                _ticket.sender,
                _ticket.faceValue,
                _ticket.winProb,
                _ticket.senderNonce,
                _ticket.recipientRandHash,
                _ticket.auxData
            )
        );
    }

    /// The checks `redeemWinningTicket` makes before paying, as a view:
    /// reverts with Livepeer's reason for the first that fails and returns
    /// the ticket hash when the ticket is a valid winner.
    function checkWinningTicket(Ticket memory _ticket, bytes memory _sig, uint256 _recipientRand)
        external
        view
        returns (bytes32 ticketHash)
    {
        ticketHash = getTicketHash(_ticket);
        require(_ticket.recipient != address(0), "ticket recipient is null address");
        require(_ticket.sender != address(0), "ticket sender is null address");
        requireValidAuxData(_ticket.auxData);
        require(
            keccak256(abi.encodePacked(_recipientRand)) == _ticket.recipientRandHash,
            "recipientRand does not match recipientRandHash"
        );
        require(ticketSigner(ticketHash, _sig) == _ticket.sender, "invalid signature over ticket hash");
        require(uint256(keccak256(abi.encodePacked(_sig, _recipientRand))) < _ticket.winProb, "ticket did not win");
    }

    function requireValidAuxData(bytes memory _auxData) private view {
        require(_auxData.length == 64, "invalid length for ticket auxData: must be 64 bytes");
        uint256 creationRound;
        bytes32 creationRoundBlockHash;
        assembly {
            creationRound := mload(add(_auxData, 32))
            creationRoundBlockHash := mload(add(_auxData, 64))
        }
        IRoundsManager rm = roundsManager();
        bytes32 blockHash = rm.blockHashForRound(creationRound);
        require(blockHash != bytes32(0), "ticket creationRound does not have a block hash");
        require(creationRoundBlockHash == blockHash, "ticket creationRoundBlockHash invalid for creationRound");
        require(creationRound + ticketValidityPeriod > rm.currentRound(), "ticket is expired");
    }

    /// The address that signed the EIP-191 hash of `_hash`, or address(0).
    function ticketSigner(bytes32 _hash, bytes memory _sig) public pure returns (address) {
        require(_sig.length == 65, "INVALID_SIGNATURE_LENGTH");
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly {
            r := mload(add(_sig, 32))
            s := mload(add(_sig, 64))
            v := byte(0, mload(add(_sig, 96)))
        }
        require(uint256(s) <= HALF_N, "ECDSA: invalid signature 's' value");
        require(v == 27 || v == 28, "ECDSA: invalid signature 'v' value");
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", _hash));
        return ecrecover(digest, v, r, s);
    }
}
