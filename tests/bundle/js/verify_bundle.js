// Verify a Sigstore bundle with @sigstore/verify, offline, against one pinned public key.
// Usage: node verify_bundle.js BUNDLE.json PUBLIC.pem [ARTIFACT]   (prints OK or FAIL <code>)
"use strict";
const fs = require("fs");
const crypto = require("crypto");
const { toTrustMaterial, Verifier, toSignedEntity } = require("@sigstore/verify");
const { bundleFromJSON } = require("@sigstore/bundle");

const [bundlePath, publicPath, artifactPath] = process.argv.slice(2);
const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, "utf8")));
const publicKey = crypto.createPublicKey(fs.readFileSync(publicPath));
const emptyRoot = { tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
const trust = toTrustMaterial(emptyRoot, () => ({ publicKey, validFor: () => true }));
const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
try {
  verifier.verify(toSignedEntity(bundle, artifactPath ? fs.readFileSync(artifactPath) : undefined));
  console.log("OK");
} catch (error) {
  console.log("FAIL", error.code || error.message);
  process.exit(1);
}
