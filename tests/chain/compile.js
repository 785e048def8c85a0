#!/usr/bin/env node
// Compiles tests/chain/contracts/*.sol with solc-js (the pinned npm package,
// no compiler download) and writes one JSON per contract,
// {"abi": [...], "bytecode": "0x..."}, into the output directory.
// Usage: node tests/chain/compile.js OUT_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const out = process.argv[2];
if (!out) {
  console.error('usage: node compile.js OUT_DIR');
  process.exit(2);
}
const dir = path.join(__dirname, 'contracts');
const sources = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.sol')).sort()) {
  sources[f] = { content: fs.readFileSync(path.join(dir, f), 'utf8') };
}
const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const result = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (result.errors || []).filter((e) => e.severity === 'error');
for (const e of result.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
fs.mkdirSync(out, { recursive: true });
for (const file of Object.keys(result.contracts)) {
  for (const [name, c] of Object.entries(result.contracts[file])) {
    fs.writeFileSync(
      path.join(out, `${name}.json`),
      JSON.stringify({ abi: c.abi, bytecode: '0x' + c.evm.bytecode.object }),
    );
  }
}
console.log(`compiled ${Object.keys(sources).length} files with solc ${solc.version()} into ${out}`);
