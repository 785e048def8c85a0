// SPDX-License-Identifier: Apache-2.0
// Test stand-in for Livepeer's Controller: a registry from
// keccak256(contract name) to address. Written for livepeer-signer's tests;
// only the ABI matches Livepeer's (`getContract(bytes32)`,
// `setContractInfo(bytes32,address,bytes20)`).
pragma solidity ^0.8.20;

contract Controller {
    struct ContractInfo {
        address contractAddress;
        bytes20 gitCommitHash;
    }

    address public owner;
    mapping(bytes32 => ContractInfo) private registry;

    event SetContractInfo(bytes32 id, address contractAddress, bytes20 gitCommitHash);

    constructor() {
        owner = msg.sender;
    }

    /// Registers (or replaces, or with address(0) removes) a contract.
    function setContractInfo(bytes32 _id, address _contractAddress, bytes20 _gitCommitHash) external {
        require(msg.sender == owner, "caller must be Controller owner");
        registry[_id] = ContractInfo(_contractAddress, _gitCommitHash);
        emit SetContractInfo(_id, _contractAddress, _gitCommitHash);
    }

    /// The registered address for `_id`, or address(0) when none is.
    function getContract(bytes32 _id) external view returns (address) {
        return registry[_id].contractAddress;
    }
}
