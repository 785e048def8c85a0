// SPDX-License-Identifier: Apache-2.0
// Test stand-in for Livepeer's ServiceRegistry: each address's service URI
// (`setServiceURI` for msg.sender, emitting ServiceURIUpdate with Livepeer's
// signature; `getServiceURI`), plus the test-only, owner-only
// `setServiceURIFor`. Written for livepeer-signer's tests.
pragma solidity ^0.8.20;

contract ServiceRegistry {
    address public owner;
    mapping(address => string) private serviceURIs;

    event ServiceURIUpdate(address indexed addr, string serviceURI);

    constructor() {
        owner = msg.sender;
    }

    function setServiceURI(string calldata _serviceURI) external {
        set(msg.sender, _serviceURI);
    }

    /// Test-only: sets `_addr`'s URI as if `_addr` had called setServiceURI.
    function setServiceURIFor(address _addr, string calldata _serviceURI) external {
        require(msg.sender == owner, "caller must be owner");
        set(_addr, _serviceURI);
    }

    function set(address _addr, string calldata _serviceURI) private {
        serviceURIs[_addr] = _serviceURI;
        emit ServiceURIUpdate(_addr, _serviceURI);
    }

    function getServiceURI(address _addr) external view returns (string memory) {
        return serviceURIs[_addr];
    }
}
