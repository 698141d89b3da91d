"""The MLBOM as a signed attestation: a DSSE statement whose subject is the bundle's digest.

``mlbom --sign`` binds the bill of materials to the exact bytes it describes: the in-toto
subject carries the same root digest model-signing uses (SHA-256 over the per-file digests in
path order), and the predicate is the CycloneDX document itself. Verification recomputes that
digest from the folder, so an MLBOM cannot be replayed for other content.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from airgap_cli.bundle import keys
from airgap_cli.bundle.digest import BundleError, hash_tree
from airgap_cli.bundle.sign import INTOTO_PAYLOAD_TYPE, STATEMENT_TYPE, dsse_bundle, pae
from airgap_cli.bundle.verify import RULES, VerifyResult
from airgap_cli.core.findings import Finding, Location, Severity

CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"


def sign_mlbom(root: Path, bom_json: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """A Sigstore v0.3 bundle over {subject: the folder's root digest, predicate: the MLBOM}."""
    manifest = hash_tree(root)
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": root.name, "digest": {"sha256": manifest.root_digest()}}],
        "predicateType": CYCLONEDX_PREDICATE,
        "predicate": json.loads(bom_json),
    }
    return dsse_bundle(statement, key)


def is_mlbom_attestation(signature: Path) -> bool:
    """Whether a signature file holds an MLBOM attestation (routing only: nothing is trusted)."""
    try:
        envelope = json.loads(signature.read_text(encoding="utf-8")).get("dsseEnvelope") or {}
        payload = json.loads(base64.b64decode(envelope.get("payload", ""), validate=True))
    except (OSError, ValueError, AttributeError, binascii.Error):
        return False
    return isinstance(payload, dict) and payload.get("predicateType") == CYCLONEDX_PREDICATE


def verify_mlbom(
    root: Path, public_key: ec.EllipticCurvePublicKey, signature: Path
) -> VerifyResult:
    """Fail closed: the pinned key signed it, and its subject is this folder's digest today."""
    findings: list[Finding] = []
    try:
        bundle = json.loads(signature.read_text(encoding="utf-8"))
        envelope = bundle["dsseEnvelope"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
        statement = json.loads(payload)
        subject = statement["subject"][0]
        expected = str(subject["digest"]["sha256"])
    except (OSError, ValueError, KeyError, IndexError, TypeError, binascii.Error) as exc:
        raise BundleError(f"not a readable MLBOM attestation: {exc}", path=signature) from None
    signed = pae(envelope.get("payloadType", ""), payload)
    if envelope.get("payloadType") != INTOTO_PAYLOAD_TYPE or not any(
        keys.verify_signature(public_key, s, signed) for s in signatures
    ):
        findings.append(
            _finding(
                "bundle-signature-invalid",
                signature,
                "the MLBOM attestation does not verify with the pinned key",
                root.name,
            )
        )
    elif statement.get("predicateType") != CYCLONEDX_PREDICATE:
        findings.append(
            _finding("bundle-predicate-unknown", signature, "not an MLBOM attestation", root.name)
        )
    else:
        actual = hash_tree(root).root_digest()
        if actual != expected:
            findings.append(
                _finding(
                    "bundle-signature-mismatch",
                    signature,
                    f"the MLBOM was signed for content with digest {expected[:16]}…, the folder now "
                    f"hashes to {actual[:16]}…",
                    root.name,
                )
            )
    return VerifyResult(
        verified=not findings,
        findings=findings,
        files=0,
        kind="mlbom",
        details={"subject": subject.get("name"), "digest": expected},
    )


def _finding(rule_id: str, signature: Path, message: str, resource: str) -> Finding:
    meta = RULES[rule_id]
    return Finding(
        rule_id=rule_id,
        severity=Severity.parse(str(meta["severity"])),
        title=str(meta["title"]),
        message=f"{signature}: {message}",
        location=Location(str(signature), None, None, resource, ""),
        remediation=meta.get("remediation", ""),
        compliance=("NIST-800-53:SR-4", "NIST-800-53:SI-7"),
    )
