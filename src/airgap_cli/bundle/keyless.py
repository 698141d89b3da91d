"""Verify keyless Sigstore bundles (Fulcio certificate + Rekor entry) offline, failing closed.

A bundle signed upstream (public Sigstore or a private instance) is checked inside the boundary
against a trust root the user pins as a file: ``trusted_root.json`` or a ClientTrustConfig. No TUF
refresh, no Rekor lookup, no network: the root is built from the file and handed to
``sigstore.verify.Verifier``, which checks the certificate chain at the log's integrated time, the
embedded SCT, the inclusion proof, the signed checkpoint, the signed entry timestamp and the
signature. The identity policy (certificate SAN, exact or regexp, and OIDC issuer) is checked
here so that every mismatch is reported, not only the first.

Then the signed content is bound to the bytes on disk by the key-based verifier
(:func:`airgap_cli.bundle.verify.verify_path`), with the certificate's key as the only trusted key:
a directory against its DSSE manifest, a file or tarball against its message digest. Every
problem is one ``Finding``; ``verified`` holds only when there is none. ``sigstore`` is imported
inside functions so ``airgap --help`` stays fast.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from airgap_cli.bundle.digest import BundleError, Progress, Start
from airgap_cli.bundle.sign import is_tarball
from airgap_cli.bundle.verify import COMPLIANCE, RULES, VerifyResult, read_bundle, verify_path
from airgap_cli.core.errors import InputError, UsageError
from airgap_cli.core.findings import Finding, Location, Severity

if TYPE_CHECKING:
    from sigstore.models import Bundle, TrustedRoot

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
MAX_TRUST_ROOT_BYTES = 16 * 1024 * 1024
"""Public Sigstore's trusted_root.json is ~10 KB; anything this large is not a trust root."""

OIDC_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
"""Fulcio's original issuer extension: the issuer URL as raw bytes."""
OIDC_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
"""Fulcio's current issuer extension: the issuer URL as a DER UTF8String."""
SIGSTORE_OTHERNAME = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
"""SAN otherName Fulcio uses for usernames (a DER UTF8String)."""

_KEYLESS_TEXTS: dict[str, dict[str, str]] = {
    "bundle-identity-mismatch": {
        "severity": "critical",
        "title": "Signer identity is not the expected one",
        "remediation": "Check --certificate-identity(-regexp) against the identity the producer signs with; if it is right, the artifact was signed by someone else: do not use it.",
    },
    "bundle-issuer-mismatch": {
        "severity": "critical",
        "title": "OIDC issuer is not the expected one",
        "remediation": "Check --certificate-oidc-issuer; an identity vouched for by another issuer is a different identity.",
    },
    "bundle-certificate-untrusted": {
        "severity": "critical",
        "title": "Signing certificate does not chain to the trust root",
        "remediation": "Pin the trust root of the Sigstore instance that issued the certificate (--trust-config/--trusted-root); never add a CA because a bundle names it.",
    },
    "bundle-certificate-expired": {
        "severity": "critical",
        "title": "Signing certificate was not valid when the signature was logged",
        "remediation": "Obtain a fresh signature: a short-lived certificate proves nothing outside its validity window.",
    },
    "bundle-certificate-invalid": {
        "severity": "critical",
        "title": "Signing certificate is not a Sigstore code-signing certificate",
        "remediation": "Obtain a bundle signed with a Fulcio-issued code-signing certificate (ECDSA P-256).",
    },
    "bundle-sct-invalid": {
        "severity": "critical",
        "title": "Certificate transparency proof is missing or invalid",
        "remediation": "Pin a trust root whose ctlogs include the CT log that signed the certificate's SCT; a certificate absent from CT may be mis-issued.",
    },
    "bundle-tlog-invalid": {
        "severity": "critical",
        "title": "Transparency log proof is missing or invalid",
        "remediation": "Obtain the bundle as the signer wrote it; an inclusion proof, checkpoint or entry timestamp that does not verify against the pinned Rekor key proves nothing.",
    },
    "bundle-tlog-mismatch": {
        "severity": "critical",
        "title": "Transparency log entry belongs to another signature",
        "remediation": "The log entry records a different signature, certificate or artifact than the bundle carries: obtain the bundle as the signer wrote it.",
    },
}
KEYLESS_RULES: dict[str, dict[str, Any]] = {
    rule_id: {**meta, "compliance": list(COMPLIANCE)} for rule_id, meta in _KEYLESS_TEXTS.items()
}
ALL_RULES: dict[str, dict[str, Any]] = {**RULES, **KEYLESS_RULES}


# --- identity policy ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """Who must have signed: the certificate SAN (exact or full-match regexp) and OIDC issuer.

    The regexp must match the whole SAN (``re.fullmatch``), unlike cosign's unanchored search, so
    ``.*@example\\.com`` is needed where cosign would accept ``@example\\.com``: a partial match
    must never let ``alice@example.com.evil.test`` through.
    """

    issuer: str
    identity: str | None = None
    identity_regexp: str | None = None
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.identity is None) == (self.identity_regexp is None):
            raise UsageError(
                "give exactly one of --certificate-identity and --certificate-identity-regexp"
            )
        if not self.issuer:
            raise UsageError("--certificate-oidc-issuer is required for keyless verification")
        if self.identity is not None and not self.identity:
            raise UsageError("--certificate-identity must not be empty")
        if self.identity_regexp is not None:
            try:
                pattern = re.compile(self.identity_regexp)
            except re.error as exc:
                raise UsageError(f"--certificate-identity-regexp is not a regexp: {exc}") from None
            object.__setattr__(self, "_pattern", pattern)

    def describe(self) -> str:
        """The expected identity as the user wrote it, for messages."""
        if self.identity is not None:
            return repr(self.identity)
        return f"/{self.identity_regexp}/"

    def matches(self, identity: str) -> bool:
        """Whether one SAN value is the expected identity."""
        if self._pattern is not None:
            return self._pattern.fullmatch(identity) is not None
        return identity == self.identity


def policy_from_options(
    *,
    identity: str | None,
    identity_regexp: str | None,
    issuer: str | None,
    trust_config: Path | None,
    trusted_root: Path | None,
) -> tuple[IdentityPolicy, Path]:
    """The identity policy and trust root file the keyless command-line options ask for.

    ``--trust-config`` and ``--trusted-root`` are the same thing under sigstore-python's and
    cosign's names (either file kind is recognised by its mediaType); exactly one is needed.
    """
    if (trust_config is None) == (trusted_root is None):
        raise UsageError("keyless verification needs exactly one of --trust-config, --trusted-root")
    if issuer is None:
        raise UsageError("keyless verification needs --certificate-oidc-issuer")
    root = trust_config if trust_config is not None else trusted_root
    assert root is not None  # both None was refused above
    policy = IdentityPolicy(issuer=issuer, identity=identity, identity_regexp=identity_regexp)
    return policy, root


def _der_utf8(value: bytes) -> str | None:
    """The text of a DER UTF8String (tag 0x0C), or None when ``value`` is not one."""
    if len(value) < 2 or value[0] != 0x0C:
        return None
    length, offset = value[1], 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or len(value) < 2 + size:
            return None
        length, offset = int.from_bytes(value[2 : 2 + size], "big"), 2 + size
    if offset + length != len(value):
        return None
    try:
        return value[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def certificate_identities(certificate: x509.Certificate) -> list[str]:
    """The SAN values Fulcio uses as identities: emails, URIs and its otherName usernames."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    found: list[str] = [*san.get_values_for_type(x509.RFC822Name)]
    found += san.get_values_for_type(x509.UniformResourceIdentifier)
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == SIGSTORE_OTHERNAME and (text := _der_utf8(other.value)) is not None:
            found.append(text)
    return found


def certificate_issuers(certificate: x509.Certificate) -> list[str]:
    """The OIDC issuer(s) the certificate states, from both Fulcio extensions (v2 first)."""
    found: list[str] = []
    for oid in (OIDC_ISSUER_V2, OIDC_ISSUER_V1):
        try:
            value = certificate.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
        text = _der_utf8(raw) if oid == OIDC_ISSUER_V2 else raw.decode("utf-8", "replace")
        found.append(text if text is not None else raw.hex())
    return found


class _PolicyCheck:
    """A sigstore ``VerificationPolicy`` that records every mismatch instead of stopping at one.

    sigstore calls it after the chain and SCT are verified, then goes on to the log and the
    signature; the caller turns each recorded mismatch into a finding, and refuses the bundle if
    sigstore never called it. Nothing here lets a mismatch pass.
    """

    def __init__(self, policy: IdentityPolicy) -> None:
        self.policy = policy
        self.evaluated = False
        self.mismatches: list[tuple[str, str, str]] = []

    def verify(self, cert: x509.Certificate) -> None:
        self.evaluated = True
        self.mismatches = []
        issuers = certificate_issuers(cert)
        if not issuers:
            self.mismatches.append(
                ("bundle-issuer-mismatch", "the certificate states no OIDC issuer", "")
            )
        elif wrong := sorted({found for found in issuers if found != self.policy.issuer}):
            shown = ", ".join(repr(found) for found in wrong)
            self.mismatches.append(
                (
                    "bundle-issuer-mismatch",
                    f"the certificate was issued for OIDC issuer {shown}, "
                    f"expected {self.policy.issuer!r}",
                    ", ".join(wrong),
                )
            )
        identities = certificate_identities(cert)
        if not any(self.policy.matches(value) for value in identities):
            shown = ", ".join(identities) or "none"
            self.mismatches.append(
                (
                    "bundle-identity-mismatch",
                    f"the certificate identity is {shown}, expected {self.policy.describe()}",
                    shown,
                )
            )


# --- trust root --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustRoot:
    """A pinned Sigstore trust root, loaded from a file and nothing else."""

    path: Path
    trusted_root: TrustedRoot


def load_trust_root(path: Path) -> TrustRoot:
    """Read ``trusted_root.json`` or a ClientTrustConfig (told apart by mediaType).

    ``InputError`` (exit 2) when the file is unreadable, not JSON, not a trust root, or lacks a
    certificate authority, a Rekor key or a CT log key: without all three nothing can verify.
    """
    try:
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import TrustedRoot
        from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootModel
    except ImportError as exc:
        raise UsageError(
            f"keyless verification needs the sigstore package ({exc}), a dependency of "
            "airgap-cli: reinstall it (pip install airgap-cli)"
        ) from None
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TRUST_ROOT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read trust root: {exc.strerror or exc}", path=path) from exc
    if len(raw) > MAX_TRUST_ROOT_BYTES:
        raise InputError("trust root file is too large", path=path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"trust root is not JSON: {exc}", path=path) from exc
    media = data.get("mediaType") if isinstance(data, dict) else None
    if media == TRUST_CONFIG_MEDIA_TYPE:
        data = data.get("trustedRoot")
        if not isinstance(data, dict):
            raise InputError("client trust config has no trustedRoot", path=path)
    elif media != TRUSTED_ROOT_MEDIA_TYPE:
        raise InputError(
            f"mediaType {media!r} is neither a Sigstore trusted root "
            f"({TRUSTED_ROOT_MEDIA_TYPE}) nor a client trust config ({TRUST_CONFIG_MEDIA_TYPE})",
            path=path,
        )
    try:
        trusted = TrustedRoot(TrustedRootModel.from_json(json.dumps(data)))
    except (SigstoreError, ValueError) as exc:
        raise InputError(f"not a valid trusted root: {_first_line(exc)}", path=path) from None
    _check_complete(trusted, path)
    return TrustRoot(path=path, trusted_root=trusted)


def _check_complete(trusted: TrustedRoot, path: Path) -> None:
    """Refuse a root that cannot verify anything now, rather than fail inside verification."""
    from sigstore._internal.trust import KeyringPurpose
    from sigstore.errors import Error as SigstoreError

    checks = (
        ("certificate authority", trusted.get_fulcio_certs),
        ("Rekor (tlogs) key", lambda: trusted.rekor_keyring(KeyringPurpose.VERIFY)),
        ("CT log (ctlogs) key", lambda: trusted.ct_keyring(KeyringPurpose.VERIFY)),
    )
    for what, load in checks:
        try:
            load()
        except (SigstoreError, ValueError) as exc:
            raise InputError(
                f"the trust root has no usable {what}: {_first_line(exc)}", path=path
            ) from None


# --- verification ------------------------------------------------------------------------------


class _Findings:
    """Findings in the house style, located at the signature file: it is the bundle that failed."""

    def __init__(self, signature: Path) -> None:
        self.signature = str(signature)
        self.items: list[Finding] = []

    def add(self, rule_id: str, message: str, *, evidence: str | None = None) -> None:
        meta = ALL_RULES[rule_id]
        self.items.append(
            Finding(
                rule_id=rule_id,
                severity=Severity(meta["severity"]),
                title=meta["title"],
                message=f"{self.signature}: {message}",
                location=Location(path=self.signature),
                evidence=(evidence or "")[:300] or None,
                remediation=meta["remediation"],
                compliance=COMPLIANCE,
            )
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _integrated_time(data: dict[str, Any]) -> datetime | None:
    try:
        entry = data["verificationMaterial"]["tlogEntries"][0]
        return datetime.fromtimestamp(int(entry["integratedTime"]), tz=UTC)
    except (KeyError, IndexError, TypeError, ValueError, OverflowError):
        return None


def _expired_message(certificate: x509.Certificate, when: datetime | None) -> str:
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    window = f"valid {start:%Y-%m-%dT%H:%M:%SZ} to {end:%Y-%m-%dT%H:%M:%SZ}"
    if when is not None and not start <= when <= end:
        return (
            f"the signing certificate ({window}) was not valid when the log integrated the "
            f"entry ({when:%Y-%m-%dT%H:%M:%SZ})"
        )
    return f"a certificate in the chain was not valid at the signing time (leaf {window})"


_PROOF_BROKEN = (
    "bundle-tlog-invalid",
    "the Merkle inclusion proof does not lead to the logged tree root: the proof is broken or "
    "forged",
)
_CHECKPOINT_INVALID = (
    "bundle-tlog-invalid",
    "the log checkpoint (signed tree head) is malformed, not signed by a Rekor key in the pinned "
    "trust root, or names another tree root than the proof",
)
_PROMISE_INVALID = (
    "bundle-tlog-invalid",
    "the signed entry timestamp (inclusion promise) is not signed by a Rekor key in the pinned "
    "trust root",
)
_ENTRY_MISMATCH = (
    "bundle-tlog-mismatch",
    "the transparency log entry records another signature, certificate or artifact than this "
    "bundle carries",
)
_SIGNATURE_INVALID = (
    "bundle-signature-invalid",
    "the signature does not verify with the signing certificate's key: the signed content or "
    "the signature was altered",
)
_SCT_INVALID = (
    "bundle-sct-invalid",
    "the certificate's embedded SCT is missing or not signed by a CT log in the pinned trust root",
)

# First match wins. The phrases are sigstore-python 4.x's own (sigstore/verify/verifier.py,
# models.py, _internal/merkle.py, _internal/rekor/checkpoint.py, _internal/sct.py); the order
# matters because a Merkle failure quotes the whole proof, checkpoint included.
_REFUSALS: tuple[tuple[str, tuple[str, str] | None], ...] = (
    ("not valid at validation time", None),
    ("expired at time of signing", None),
    ("certificate chain", None),
    ("SCT", _SCT_INVALID),
    ("inclusion proof contains invalid root hash:", _PROOF_BROKEN),
    ("inclusion proof has wrong size", _PROOF_BROKEN),
    ("checkpoint", _CHECKPOINT_INVALID),
    ("Checkpoint", _CHECKPOINT_INVALID),
    ("Inclusion proof contains invalid root hash signature", _CHECKPOINT_INVALID),
    ("Note", _CHECKPOINT_INVALID),
    ("note must", _CHECKPOINT_INVALID),
    ("SET:", _PROMISE_INVALID),
    ("inconsistent with other materials", _ENTRY_MISMATCH),
    ("does not match bundle", _ENTRY_MISMATCH),
    ("DSSE: invalid signature", _SIGNATURE_INVALID),
    ("Signature is invalid for input", _SIGNATURE_INVALID),
)


def _classify(
    exc: BaseException, certificate: x509.Certificate, data: dict[str, Any]
) -> tuple[str, str]:
    """Map sigstore's refusal (one exception type, free text) onto a rule and a clear sentence.

    Anything unrecognised is still a refusal (``bundle-signature-invalid``, sigstore's words kept).
    """
    text = str(exc)
    for phrase, verdict in _REFUSALS:
        if phrase not in text:
            continue
        if verdict is not None:
            return verdict
        if phrase == "certificate chain":
            issuer = certificate.issuer.rfc4514_string() or "an empty name"
            return (
                "bundle-certificate-untrusted",
                f"the signing certificate (issued by {issuer}) does not chain to a certificate "
                "authority in the pinned trust root",
            )
        return "bundle-certificate-expired", _expired_message(certificate, _integrated_time(data))
    if "usage" in text:
        return "bundle-certificate-invalid", f"the signing certificate is unfit: {text}"
    if "time" in text.lower() or "log entry" in text or "entry type" in text:
        return "bundle-tlog-invalid", f"the transparency log entry cannot be used: {text}"
    return "bundle-signature-invalid", f"sigstore refused the bundle: {_first_line(exc)}"


def _parse(raw: str, out: _Findings) -> Bundle | None:
    """The sigstore ``Bundle``, or None (with a finding) when it is not a usable keyless bundle."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle

    try:
        return Bundle.from_json(raw)
    except (SigstoreError, ValueError) as exc:
        reason = _first_line(exc)
        if "expected certificate" in reason:
            reason = "it carries no signing certificate (a key-signed bundle: verify it with --key)"
        out.add("bundle-malformed", f"not a usable keyless Sigstore bundle: {reason}")
        return None


def _verify_with_sigstore(
    bundle: Bundle, data: dict[str, Any], trust: TrustRoot, check: _PolicyCheck, out: _Findings
) -> None:
    """Chain, SCT, identity, log proofs and signature, against the pinned root only."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore.verify import Verifier
    from sigstore_models.common.v1 import HashAlgorithm

    verifier = Verifier(trusted_root=trust.trusted_root)
    try:
        if isinstance(data.get("dsseEnvelope"), dict):
            verifier.verify_dsse(bundle, check)
        else:
            digest = _message_digest(data)
            if digest is None:
                out.add(
                    "bundle-malformed",
                    "messageSignature has no SHA2_256 messageDigest, so the signed file "
                    "cannot be named",
                )
                return
            hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)
            verifier.verify_artifact(hashed, bundle, check)
    except (SigstoreError, ValueError) as exc:
        rule, message = _classify(exc, bundle.signing_certificate, data)
        out.add(rule, message, evidence=str(exc))
    else:
        if not check.evaluated:
            out.add(
                "bundle-identity-mismatch",
                "the identity policy was never evaluated, so the signer is unknown",
            )


def _message_digest(data: dict[str, Any]) -> bytes | None:
    digest = data.get("messageSignature", {}).get("messageDigest") or {}
    if digest.get("algorithm") != "SHA2_256":
        return None
    try:
        value = base64.b64decode(str(digest.get("digest", "")), validate=True)
    except (binascii.Error, ValueError):
        return None
    return value if len(value) == 32 else None


def _bind_to_disk(
    path: Path,
    signature: Path,
    key: ec.EllipticCurvePublicKey,
    progress: Progress | None,
    on_start: Start | None,
) -> VerifyResult:
    """What the certificate's key signed must be exactly what is on disk."""
    from airgap_cli.bundle.attest import is_mlbom_attestation, verify_mlbom

    if is_mlbom_attestation(signature):
        return verify_mlbom(path, key, signature)
    return verify_path(path, key, signature, progress=progress, on_start=on_start)


def verify_keyless(
    path: Path,
    signature: Path,
    trust: TrustRoot,
    policy: IdentityPolicy,
    *,
    progress: Progress | None = None,
    on_start: Start | None = None,
) -> VerifyResult:
    """Verify ``path`` against a keyless ``signature`` bundle, the pinned ``trust`` and ``policy``.

    Fails closed: ``verified`` only when sigstore accepts the bundle under the pinned root, the
    certificate names the expected identity and issuer, and the signed manifest or digest matches
    every byte of ``path``. ``BundleError`` for unusable input (missing path, unreadable or
    non-JSON signature).
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise BundleError(f"cannot open: {exc.strerror or exc}", path=path) from exc
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
        raise BundleError("not a directory or regular file", path=path)
    data = read_bundle(signature)
    out = _Findings(signature)
    kind = "directory" if stat.S_ISDIR(mode) else ("tarball" if is_tarball(path) else "file")
    bundle = _parse(json.dumps(data), out) if isinstance(data, dict) else None
    if bundle is None:
        if not out.items:
            out.add("bundle-malformed", f"a bundle is a JSON object, found {type(data).__name__}")
        return VerifyResult(verified=False, findings=out.items, files=0, kind=kind)
    certificate = bundle.signing_certificate
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        out.add(
            "bundle-certificate-invalid",
            f"the signing certificate holds a {type(key).__name__}, not an ECDSA key",
        )
        return VerifyResult(verified=False, findings=out.items, files=0, kind=kind)
    check = _PolicyCheck(policy)
    _verify_with_sigstore(bundle, data, trust, check, out)
    for rule, message, evidence in check.mismatches:
        out.add(rule, message, evidence=evidence)
    bound = _bind_to_disk(path, signature, key, progress, on_start)
    reported = {f.rule_id for f in out.items}
    findings = out.items + [f for f in bound.findings if f.rule_id not in reported]
    findings.sort(key=Finding.sort_key)
    details = {
        **bound.details,
        "identities": certificate_identities(certificate),
        "issuers": certificate_issuers(certificate),
        "certificate_serial": format(certificate.serial_number, "x"),
        "integrated_time": _iso(_integrated_time(data)),
        "trust_root": str(trust.path),
    }
    return VerifyResult(
        verified=not findings,
        findings=findings,
        files=bound.files,
        kind=bound.kind or kind,
        details=details,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None
