"""A private Sigstore instance built in the test process: Fulcio CA, CT log, Rekor log, trust root.

There is no internet and nothing may be copied in, so the keyless bundles the tests verify are
made here with ``cryptography`` alone, following the published wire formats:

* Fulcio: root CA -> intermediate -> leaf code-signing certificate with an empty subject, the
  identity as a critical SAN, the OIDC issuer in extensions 1.3.6.1.4.1.57264.1.1 (raw string)
  and .1.8 (DER UTF8String), and one embedded precertificate SCT.
* CT log (RFC 6962 3.2): the SCT signs ``version, signature_type=0, timestamp, entry_type=1
  (precert), issuer_key_hash, TBSCertificate without the SCT extension, extensions``.
* Rekor v1: a ``hashedrekord`` or ``dsse`` 0.0.1 body as canonical JSON, an RFC 6962 Merkle tree
  with an inclusion proof, a checkpoint as a signed note (``— name base64(keyid[:4] || sig)``) and
  a signed entry timestamp over canonical ``{body, integratedTime, logID, logIndex}``.
* protobuf-specs JSON for the bundle (v0.1-v0.3), ``trusted_root.json`` and ClientTrustConfig.

Every piece can be tampered with on purpose (see the keyword arguments of ``PrivateSigstore.seal``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

OIDC_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
BUNDLE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
TRUSTED_ROOT_MEDIA = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
TRUST_CONFIG_MEDIA = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
SIGNING_CONFIG_MEDIA = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
INTOTO = "application/vnd.in-toto+json"


# --- encodings ---------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def canonical_json(value: Any) -> bytes:
    """RFC 8785 for the ASCII keys and values used here: sorted keys, no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + body


def key_id(public: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 6962 key id: SHA-256 of the DER SubjectPublicKeyInfo (also Rekor's log id)."""
    return hashlib.sha256(spki(public)).digest()


def spki(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- RFC 6962 Merkle tree ----------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two strictly smaller than ``size``."""
    return 1 << ((size - 1).bit_length() - 1)


def merkle_root(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def inclusion_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]): sibling hashes from the leaf up to the root."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_path(index, leaves[:k]), merkle_root(leaves[k:])]
    return [*inclusion_path(index - k, leaves[k:]), merkle_root(leaves[:k])]


# --- the instance ------------------------------------------------------------------------------


@dataclass
class Signer:
    """An ephemeral key and the Fulcio certificate that binds it to an identity."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class PrivateSigstore:
    """One self-contained Sigstore deployment: CA chain, CT log key, Rekor key and its log."""

    name: str = "private"
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rekor_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    leaves: list[bytes] = field(default_factory=list)
    """Leaf hashes of the Rekor log, in order; entries from other signers are simulated."""

    def __post_init__(self) -> None:
        self.valid_from = self.now - timedelta(days=30)
        self.root_cert = self._ca(f"{self.name} fulcio root", self.root_key, None)
        self.intermediate_cert = self._ca(
            f"{self.name} fulcio intermediate", self.intermediate_key, self.root_cert
        )
        self.origin = f"rekor.{self.name}.invalid - 2605736670972794746"
        for i in range(5):  # earlier, unrelated entries, so the proof has real siblings
            self.leaves.append(leaf_hash(f"{self.name} entry {i}".encode()))

    # --- certificate authority ---------------------------------------------------------------

    def _ca(
        self, common_name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None
    ) -> x509.Certificate:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{self.name}.invalid"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        signing_key = key if issuer is None else self.root_key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer.subject if issuer is not None else subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.valid_from)
            .not_valid_after(self.now + timedelta(days=3650))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=None if issuer is None else 0),
                critical=True,
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()),
                critical=False,
            )
        )
        if issuer is not None:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
        return builder.sign(signing_key, hashes.SHA256())

    def issue(
        self,
        identity: str,
        issuer: str,
        *,
        uri: bool = False,
        not_before: datetime | None = None,
        lifetime: timedelta = timedelta(minutes=10),
        issuer_extensions: tuple[str, ...] = ("v1", "v2"),
        v1_issuer: str | None = None,
        ct_key: ec.EllipticCurvePrivateKey | None = None,
    ) -> Signer:
        """A Fulcio leaf for ``identity`` (email, or URI when ``uri``) from OIDC ``issuer``.

        ``v1_issuer`` writes another issuer into the legacy extension than into the current one.
        """
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or self.now - timedelta(hours=1)
        san: x509.GeneralName = (
            x509.UniformResourceIdentifier(identity) if uri else x509.RFC822Name(identity)
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + lifetime)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.intermediate_key.public_key()
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
        )
        if "v1" in issuer_extensions:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(OIDC_ISSUER_V1, (v1_issuer or issuer).encode()),
                critical=False,
            )
        if "v2" in issuer_extensions:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(OIDC_ISSUER_V2, _der(0x0C, issuer.encode())),
                critical=False,
            )
        precertificate = builder.sign(self.intermediate_key, hashes.SHA256())
        sct = self._sct(precertificate.tbs_certificate_bytes, start, ct_key or self.ct_key)
        certificate = builder.add_extension(
            x509.UnrecognizedExtension(
                ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, _der(0x04, sct)
            ),
            critical=False,
        ).sign(self.intermediate_key, hashes.SHA256())
        # The CT log signed exactly what a verifier rebuilds from the final certificate.
        assert certificate.tbs_precertificate_bytes == precertificate.tbs_certificate_bytes
        return Signer(key, certificate)

    def _sct(self, tbs: bytes, when: datetime, ct_key: ec.EllipticCurvePrivateKey) -> bytes:
        """A SignedCertificateTimestampList holding one v1 precertificate SCT (RFC 6962 3.2-3.3)."""
        timestamp = int(when.timestamp() * 1000)
        issuer_key_hash = key_id(self.intermediate_key.public_key())
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp, 1)
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + struct.pack("!H", 0)
        )
        signature = _sign(ct_key, signed)
        sct = (
            struct.pack("!B", 0)
            + key_id(ct_key.public_key())
            + struct.pack("!QH", timestamp, 0)
            + struct.pack("!BBH", 4, 3, len(signature))  # sha256, ecdsa
            + signature
        )
        serialized = struct.pack("!H", len(sct)) + sct
        return struct.pack("!H", len(serialized)) + serialized

    # --- transparency log ----------------------------------------------------------------------

    def log_entry(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        integrated_time: datetime | None = None,
        rekor_key: ec.EllipticCurvePrivateKey | None = None,
        break_proof: bool = False,
        bad_checkpoint: bool = False,
        bad_set: bool = False,
        promise: bool = True,
    ) -> dict[str, Any]:
        """Append ``body`` to the log; its protobuf-specs ``TransparencyLogEntry`` JSON."""
        key = rekor_key or self.rekor_key
        canonical = canonical_json(body)
        index = len(self.leaves)
        self.leaves.append(leaf_hash(canonical))
        self.leaves.append(leaf_hash(f"{self.name} entry after {index}".encode()))
        tree = self.leaves[:]
        root = merkle_root(tree)
        path = inclusion_path(index, tree)
        if break_proof:
            path[0] = hashlib.sha256(path[0]).digest()
        note = f"{self.origin}\n{len(tree)}\n{b64(root)}\n"
        note_signature = _sign(key, note.encode())
        if bad_checkpoint:
            note_signature = _sign(key, f"{self.origin}\n{len(tree) + 1}\n{b64(root)}\n".encode())
        log_id = key_id(self.rekor_key.public_key())
        checkpoint = (
            f"{note}\n\u2014 rekor.{self.name}.invalid {b64(log_id[:4] + note_signature)}\n"
        )
        when = int((integrated_time or self.now - timedelta(minutes=55)).timestamp())
        entry: dict[str, Any] = {
            "logIndex": str(index),
            "logId": {"keyId": b64(log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(when),
            "inclusionProof": {
                "logIndex": str(index),
                "rootHash": b64(root),
                "treeSize": str(len(tree)),
                "hashes": [b64(h) for h in path],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": b64(canonical),
        }
        if promise:
            promised = {
                "body": b64(canonical),
                "integratedTime": when + (1 if bad_set else 0),
                "logID": log_id.hex(),
                "logIndex": index,
            }
            entry["inclusionPromise"] = {
                "signedEntryTimestamp": b64(_sign(key, canonical_json(promised)))
            }
        return entry

    # --- bundles -------------------------------------------------------------------------------

    def sign_message(self, signer: Signer, data: bytes, **log: Any) -> dict[str, Any]:
        """A ``messageSignature`` bundle over ``data``, logged as a hashedrekord entry."""
        digest = hashlib.sha256(data).digest()
        signature = signer.key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        content = {
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(signature),
            }
        }
        return self.seal(signer, content, **log)

    def sign_dsse(
        self, signer: Signer, payload: bytes, payload_type: str = INTOTO, **log: Any
    ) -> dict[str, Any]:
        """A ``dsseEnvelope`` bundle over ``payload``, logged as a dsse entry."""
        pae = b"DSSEv1 %d %s %d %s" % (
            len(payload_type),
            payload_type.encode(),
            len(payload),
            payload,
        )
        envelope = {
            "payload": b64(payload),
            "payloadType": payload_type,
            "signatures": [{"sig": b64(_sign(signer.key, pae)), "keyid": ""}],
        }
        return self.seal(signer, {"dsseEnvelope": envelope}, **log)

    def seal(
        self,
        signer: Signer,
        content: dict[str, Any],
        *,
        media_type: str = BUNDLE_V03,
        logged_for: bytes | None = None,
        **log: Any,
    ) -> dict[str, Any]:
        """Log a signed ``content`` (message or envelope) and wrap it in a Sigstore bundle.

        ``logged_for`` logs a hashedrekord entry for other bytes than the signed ones (an entry
        that belongs to another artifact); ``log`` goes to :meth:`log_entry`.
        """
        pem = b64(signer.pem)
        spec: dict[str, Any]
        if "messageSignature" in content:
            kind = "hashedrekord"
            message = content["messageSignature"]
            digest = base64.b64decode(message["messageDigest"]["digest"])
            if logged_for is not None:
                digest = hashlib.sha256(logged_for).digest()
            spec = {
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                "signature": {"content": message["signature"], "publicKey": {"content": pem}},
            }
        else:
            kind = "dsse"
            envelope = content["dsseEnvelope"]
            payload = base64.b64decode(envelope["payload"])
            spec = {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(canonical_json(envelope)).hexdigest(),
                },
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(logged_for or payload).hexdigest(),
                },
                "signatures": [
                    {"signature": s["sig"], "verifier": pem} for s in envelope["signatures"]
                ],
            }
        body = {"apiVersion": "0.0.1", "kind": kind, "spec": spec}
        entry = self.log_entry(kind, body, **log)
        der = signer.certificate.public_bytes(serialization.Encoding.DER)
        material: dict[str, Any] = {"tlogEntries": [entry]}
        if media_type == BUNDLE_V03:
            material["certificate"] = {"rawBytes": b64(der)}
        else:
            material["x509CertificateChain"] = {"certificates": [{"rawBytes": b64(der)}]}
        return {"mediaType": media_type, "verificationMaterial": material, **content}

    # --- trust root ----------------------------------------------------------------------------

    def _log_instance(self, kind: str, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
        public = key.public_key()
        return {
            "baseUrl": f"https://{kind}.{self.name}.invalid",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": b64(spki(public)),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": {"start": _iso(self.valid_from)},
            },
            "logId": {"keyId": b64(key_id(public))},
        }

    def trusted_root(self) -> dict[str, Any]:
        """``trusted_root.json`` naming this instance's CA chain, Rekor key and CT log key."""
        chain = [self.intermediate_cert, self.root_cert]
        return {
            "mediaType": TRUSTED_ROOT_MEDIA,
            "tlogs": [self._log_instance("rekor", self.rekor_key)],
            "certificateAuthorities": [
                {
                    "subject": {
                        "organization": f"{self.name}.invalid",
                        "commonName": f"{self.name} fulcio intermediate",
                    },
                    "uri": f"https://fulcio.{self.name}.invalid",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))}
                            for c in chain
                        ]
                    },
                    "validFor": {"start": _iso(self.valid_from)},
                }
            ],
            "ctlogs": [self._log_instance("ctfe", self.ct_key)],
            "timestampAuthorities": [],
        }

    def trust_config(self) -> dict[str, Any]:
        """The same root as a ClientTrustConfig (what ``sigstore --trust-config`` reads)."""

        def service(kind: str) -> dict[str, Any]:
            return {
                "url": f"https://{kind}.{self.name}.invalid",
                "majorApiVersion": 1,
                "validFor": {"start": _iso(self.valid_from)},
                "operator": f"{self.name}.invalid",
            }

        return {
            "mediaType": TRUST_CONFIG_MEDIA,
            "trustedRoot": self.trusted_root(),
            "signingConfig": {
                "mediaType": SIGNING_CONFIG_MEDIA,
                "caUrls": [service("fulcio")],
                "oidcUrls": [service("oauth2")],
                "rekorTlogUrls": [service("rekor")],
                "tsaUrls": [],
            },
        }
