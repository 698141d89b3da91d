"""Signed attestations: DSSE statements whose subject is content, verified against pinned keys.

Two kinds. ``mlbom --sign`` binds the bill of materials to the exact bytes it describes: the
in-toto subject carries the same root digest model-signing uses (SHA-256 over the per-file
digests in path order), and the predicate is the CycloneDX document itself; verification
recomputes that digest from the folder, so an MLBOM cannot be replayed for other content.
``report --sign`` binds an audit report's verdicts to the files it wrote (HTML, Markdown,
JSON): one subject per file with its SHA-256, the verdicts as the predicate.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from airgap_cli.bundle import keys
from airgap_cli.bundle.digest import BundleError, hash_file, hash_tree
from airgap_cli.bundle.sign import INTOTO_PAYLOAD_TYPE, STATEMENT_TYPE, dsse_bundle, pae
from airgap_cli.bundle.verify import RULES, VerifyResult
from airgap_cli.core.findings import Finding, Location, Severity

CYCLONEDX_PREDICATE = "https://cyclonedx.org/bom"
AUDIT_PREDICATE = "https://airgap.invalid/audit-report/v1"


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


def attestation_type(signature: Path) -> str | None:
    """The predicate type of a DSSE attestation file, or None (routing only: nothing is trusted
    until the signature verifies)."""
    try:
        envelope = json.loads(signature.read_text(encoding="utf-8")).get("dsseEnvelope") or {}
        payload = json.loads(base64.b64decode(envelope.get("payload", ""), validate=True))
    except (OSError, ValueError, AttributeError, binascii.Error):
        return None
    kind = payload.get("predicateType") if isinstance(payload, dict) else None
    return kind if kind in (CYCLONEDX_PREDICATE, AUDIT_PREDICATE) else None


def is_mlbom_attestation(signature: Path) -> bool:
    """Whether a signature file holds an MLBOM attestation."""
    return attestation_type(signature) == CYCLONEDX_PREDICATE


@dataclass(frozen=True, slots=True)
class _Statement:
    envelope: dict[str, Any]
    payload: bytes
    signatures: list[bytes]
    statement: dict[str, Any]


def _read_statement(signature: Path, what: str) -> _Statement:
    try:
        bundle = json.loads(signature.read_text(encoding="utf-8"))
        envelope = bundle["dsseEnvelope"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
        statement = json.loads(payload)
        if not isinstance(statement, dict) or not statement["subject"]:
            raise ValueError("the statement has no subject")
    except (OSError, ValueError, KeyError, IndexError, TypeError, binascii.Error) as exc:
        raise BundleError(f"not a readable {what}: {exc}", path=signature) from None
    return _Statement(envelope, payload, signatures, statement)


def _signed_by(read: _Statement, pinned: Sequence[ec.EllipticCurvePublicKey]) -> bool:
    """The envelope is an in-toto statement signed by one of the pinned keys."""
    if read.envelope.get("payloadType") != INTOTO_PAYLOAD_TYPE:
        return False
    signed = pae(INTOTO_PAYLOAD_TYPE, read.payload)
    return any(keys.verify_signature(k, s, signed) for k in pinned for s in read.signatures)


def verify_mlbom(
    root: Path, public_key: ec.EllipticCurvePublicKey, signature: Path
) -> VerifyResult:
    """Fail closed: the pinned key signed it, and its subject is this folder's digest today."""
    findings: list[Finding] = []
    read = _read_statement(signature, "MLBOM attestation")
    try:
        subject = read.statement["subject"][0]
        expected = str(subject["digest"]["sha256"])
    except (KeyError, IndexError, TypeError) as exc:
        raise BundleError(f"not a readable MLBOM attestation: {exc}", path=signature) from None
    if not _signed_by(read, [public_key]):
        findings.append(
            _finding(
                "bundle-signature-invalid",
                signature,
                "the MLBOM attestation does not verify with the pinned key",
                root.name,
            )
        )
    elif read.statement.get("predicateType") != CYCLONEDX_PREDICATE:
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


def sign_report(
    files: Sequence[Path], predicate: dict[str, Any], key: ec.EllipticCurvePrivateKey
) -> dict[str, Any]:
    """A Sigstore v0.3 bundle over {subject: each written report file, predicate: verdicts}."""
    if not files:
        raise BundleError("nothing to sign: no report file was written")
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f.name, "digest": {"sha256": hash_file(f)}} for f in files],
        "predicateType": AUDIT_PREDICATE,
        "predicate": predicate,
    }
    return dsse_bundle(statement, key)


def verify_report(
    path: Path, pinned: Sequence[ec.EllipticCurvePublicKey], signature: Path
) -> VerifyResult:
    """Fail closed: a pinned key signed the statement, and ``path`` is byte for byte one of the
    files it names (by digest: a renamed copy still verifies, an edited one never does)."""
    read = _read_statement(signature, "report attestation")
    subjects = read.statement["subject"]
    findings: list[Finding] = []
    predicate = read.statement.get("predicate")
    if not _signed_by(read, pinned):
        message = "the report attestation does not verify with the pinned key"
        findings.append(_finding("bundle-signature-invalid", signature, message, path.name))
    elif read.statement.get("predicateType") != AUDIT_PREDICATE or not isinstance(predicate, dict):
        message = "not an audit report attestation"
        findings.append(_finding("bundle-predicate-unknown", signature, message, path.name))
    else:
        actual = hash_file(path)
        signed = {
            str(s.get("digest", {}).get("sha256")): str(s.get("name"))
            for s in subjects
            if isinstance(s, dict) and isinstance(s.get("digest"), dict)
        }
        if actual not in signed:
            names = ", ".join(sorted(signed.values()))
            findings.append(
                _finding(
                    "bundle-file-modified",
                    signature,
                    f"{path.name} (sha256:{actual[:16]}…) is none of the files the report "
                    f"signature covers ({names}): it was modified, or is another report",
                    path.name,
                )
            )
    summary = predicate if isinstance(predicate, dict) else {}
    return VerifyResult(
        verified=not findings,
        findings=findings,
        files=1 if not findings else 0,
        kind="report",
        details={
            "verdict": summary.get("verdict"),
            "generated": summary.get("generated"),
            "subjects": [s.get("name") for s in subjects if isinstance(s, dict)],
        },
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
        compliance=tuple(meta.get("compliance", ())),
    )
