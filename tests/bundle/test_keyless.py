"""Keyless bundles signed by a Sigstore instance, verified offline against a pinned trust root.

The instance (Fulcio CA, CT log, Rekor log) is built in-process by ``private_sigstore``; the
verifier is the real ``sigstore`` library driven by ``airgap bundle verify``. Every tampering a
user worries about is refused with exit 1 and names its rule; unusable input is exit 2.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airgap_cli.bundle import keyless, sign
from airgap_cli.core.errors import UsageError

from .private_sigstore import (
    BUNDLE_V01,
    BUNDLE_V02,
    BUNDLE_V03,
    PrivateSigstore,
    Signer,
)
from .test_sigstore_js import PEER
from .test_sigstore_js import node_modules as install_sigstore_js  # noqa: F401 (a fixture)

Cli = Callable[..., Any]
IDENTITY = "release-bot@example.test"
ISSUER = "https://oidc.private.invalid"
WORKFLOW = "https://git.private.invalid/ml/llama-mini/.gitlab-ci.yml@refs/heads/main"


@pytest.fixture(scope="module")
def instance() -> PrivateSigstore:
    return PrivateSigstore()


@pytest.fixture(scope="module")
def stranger() -> PrivateSigstore:
    """Another Sigstore deployment: its CA, CT log and Rekor keys are not pinned."""
    return PrivateSigstore(name="stranger")


@pytest.fixture(scope="module")
def signer(instance: PrivateSigstore) -> Signer:
    return instance.issue(IDENTITY, ISSUER)


@pytest.fixture
def trusted_root(tmp_path: Path, instance: PrivateSigstore) -> Path:
    path = tmp_path / "trusted_root.json"
    path.write_text(json.dumps(instance.trusted_root()))
    return path


@pytest.fixture
def artifact(tmp_path: Path) -> Path:
    path = tmp_path / "llama-mini.gguf"
    path.write_bytes(b"GGUF" + os.urandom(4096))
    return path


def _model(root: Path) -> Path:
    for rel, data in {
        "config.json": b'{"architectures": ["LlamaForCausalLM"]}',
        "model.safetensors": os.urandom(2048),
        "tokenizer/tokenizer.json": b'{"version": "1.0"}',
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _sign_directory(instance: PrivateSigstore, signer: Signer, folder: Path) -> dict[str, Any]:
    """A model-signing DSSE manifest (airgap's own writer) signed keylessly by ``signer``."""
    envelope = sign.sign_directory(folder, signer.key)["dsseEnvelope"]
    return instance.sign_dsse(
        signer, base64.b64decode(envelope["payload"]), envelope["payloadType"]
    )


def _verify(
    cli: Cli,
    target: Path,
    bundle: dict[str, Any] | str,
    trust: Path,
    *options: str,
    identity: str = IDENTITY,
    issuer: str = ISSUER,
) -> Any:
    """``airgap bundle verify TARGET`` with the keyless options; JSON report on stdout."""
    signature = Path(f"{target}.sigstore.json")
    signature.write_text(bundle if isinstance(bundle, str) else json.dumps(bundle))
    return cli(
        "bundle",
        "verify",
        str(target),
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        "--trusted-root",
        str(trust),
        "-f",
        "json",
        *options,
    )


def _rules(result: Any) -> list[str]:
    return [f["rule_id"] for f in json.loads(result.stdout)["findings"]]


# --- what passes -------------------------------------------------------------------------------


@pytest.mark.parametrize("media_type", [BUNDLE_V03, BUNDLE_V02, BUNDLE_V01])
def test_a_keyless_file_bundle_verifies_offline(
    cli: Cli,
    instance: PrivateSigstore,
    signer: Signer,
    artifact: Path,
    trusted_root: Path,
    media_type: str,
) -> None:
    bundle = instance.sign_message(signer, artifact.read_bytes(), media_type=media_type)
    result = _verify(cli, artifact, bundle, trusted_root)
    assert result.exit_code == 0, result.stdout
    assert f"1 files verified against '{IDENTITY}' ({ISSUER})" in result.stderr
    report = json.loads(result.stdout)
    assert report["findings"] == []
    assert report["details"]["bundle"]["keyless"]["identities"] == [IDENTITY]
    assert report["details"]["bundle"]["keyless"]["issuers"] == [ISSUER, ISSUER]


def test_a_keyless_model_folder_verifies_with_a_trust_config_and_a_regexp(
    cli: Cli, instance: PrivateSigstore, tmp_path: Path
) -> None:
    """A CI identity (URI SAN, current Fulcio issuer extension only) and a private instance's
    ClientTrustConfig, the form sigstore-python's ``--trust-config`` reads."""
    ci = instance.issue(WORKFLOW, ISSUER, uri=True, issuer_extensions=("v2",))
    folder = _model(tmp_path / "llama-mini")
    config = tmp_path / "trust_config.json"
    config.write_text(json.dumps(instance.trust_config()))
    Path(f"{folder}.sigstore.json").write_text(json.dumps(_sign_directory(instance, ci, folder)))
    result = cli(
        "bundle",
        "verify",
        str(folder),
        "--certificate-identity-regexp",
        r"https://git\.private\.invalid/ml/.+@refs/heads/main",
        "--certificate-oidc-issuer",
        ISSUER,
        "--trust-config",
        str(config),
    )
    assert result.exit_code == 0, result.stdout
    assert "3 files verified" in result.stderr


# --- what is refused, one finding per problem -----------------------------------------------


Tamper = Callable[[PrivateSigstore, PrivateSigstore, Signer, Path], dict[str, Any]]


def _altered_signature(inst: PrivateSigstore, _: PrivateSigstore, s: Signer, a: Path) -> Any:
    bundle = inst.sign_message(s, a.read_bytes())
    raw = bytearray(base64.b64decode(bundle["messageSignature"]["signature"]))
    raw[-3] ^= 0x01
    bundle["messageSignature"]["signature"] = base64.b64encode(bytes(raw)).decode()
    return bundle


TAMPERED: dict[str, tuple[Tamper, str, str]] = {
    "another identity": (
        lambda inst, _, s, a: inst.sign_message(
            inst.issue("intruder@example.test", ISSUER), a.read_bytes()
        ),
        "bundle-identity-mismatch",
        "the certificate identity is intruder@example.test, expected 'release-bot@example.test'",
    ),
    "another issuer": (
        lambda inst, _, s, a: inst.sign_message(
            inst.issue(IDENTITY, "https://accounts.other.invalid"), a.read_bytes()
        ),
        "bundle-issuer-mismatch",
        "issued for OIDC issuer 'https://accounts.other.invalid', expected",
    ),
    "a CA outside the trust root": (
        lambda _, other, s, a: other.sign_message(other.issue(IDENTITY, ISSUER), a.read_bytes()),
        "bundle-certificate-untrusted",
        "does not chain to a certificate authority in the pinned trust root",
    ),
    "a broken inclusion proof": (
        lambda inst, _, s, a: inst.sign_message(s, a.read_bytes(), break_proof=True),
        "bundle-tlog-invalid",
        "the Merkle inclusion proof does not lead to the logged tree root",
    ),
    "a checkpoint with a bad signature": (
        lambda inst, _, s, a: inst.sign_message(s, a.read_bytes(), bad_checkpoint=True),
        "bundle-tlog-invalid",
        "the log checkpoint (signed tree head)",
    ),
    "a log that is not pinned": (
        lambda inst, other, s, a: inst.sign_message(s, a.read_bytes(), rekor_key=other.rekor_key),
        "bundle-tlog-invalid",
        "the log checkpoint (signed tree head)",
    ),
    "a forged entry timestamp": (
        lambda inst, _, s, a: inst.sign_message(s, a.read_bytes(), bad_set=True),
        "bundle-tlog-invalid",
        "the signed entry timestamp (inclusion promise) is not signed",
    ),
    "a certificate expired at the integrated time": (
        lambda inst, _, s, a: inst.sign_message(
            s,
            a.read_bytes(),
            integrated_time=s.certificate.not_valid_after_utc + timedelta(minutes=5),
        ),
        "bundle-certificate-expired",
        "was not valid when the log integrated the entry",
    ),
    "a certificate not yet valid at the integrated time": (
        lambda inst, _, s, a: inst.sign_message(
            s,
            a.read_bytes(),
            integrated_time=s.certificate.not_valid_before_utc - timedelta(minutes=5),
        ),
        "bundle-certificate-expired",
        "was not valid when the log integrated the entry",
    ),
    "an SCT from an unknown CT log": (
        lambda inst, other, s, a: inst.sign_message(
            inst.issue(IDENTITY, ISSUER, ct_key=other.ct_key), a.read_bytes()
        ),
        "bundle-sct-invalid",
        "SCT is missing or not signed by a CT log in the pinned trust root",
    ),
    "an altered signature": (
        _altered_signature,
        "bundle-signature-invalid",
        "does not verify with the signing certificate's key",
    ),
    "a log entry for another artifact": (
        lambda inst, _, s, a: inst.sign_message(s, a.read_bytes(), logged_for=b"other release"),
        "bundle-tlog-mismatch",
        "records another signature, certificate or artifact",
    ),
    "no inclusion promise and no timestamp": (
        lambda inst, _, s, a: inst.sign_message(s, a.read_bytes(), promise=False),
        "bundle-malformed",
        "must contain an inclusion promise or signed timestamp",
    ),
    "a key-signed bundle": (
        lambda inst, _, s, a: sign.sign_blob(a, s.key),
        "bundle-malformed",
        "carries no signing certificate (a key-signed bundle: verify it with --key)",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_each_tampering_is_refused_with_its_own_finding(
    cli: Cli,
    instance: PrivateSigstore,
    stranger: PrivateSigstore,
    signer: Signer,
    artifact: Path,
    trusted_root: Path,
    case: str,
) -> None:
    make, rule, message = TAMPERED[case]
    result = _verify(cli, artifact, make(instance, stranger, signer, artifact), trusted_root)
    assert result.exit_code == 1, result.stdout
    findings = json.loads(result.stdout)["findings"]
    assert [f["rule_id"] for f in findings] == [rule]
    assert message in findings[0]["message"]
    assert findings[0]["severity"] in ("critical", "high")


def test_a_changed_byte_in_the_artifact_is_refused(
    cli: Cli, instance: PrivateSigstore, signer: Signer, artifact: Path, trusted_root: Path
) -> None:
    bundle = instance.sign_message(signer, artifact.read_bytes())
    data = bytearray(artifact.read_bytes())
    data[100] ^= 0x01
    artifact.write_bytes(bytes(data))
    result = _verify(cli, artifact, bundle, trusted_root)
    assert result.exit_code == 1
    assert _rules(result) == ["bundle-file-modified"]


def test_every_problem_is_reported_not_only_the_first(
    cli: Cli, instance: PrivateSigstore, tmp_path: Path, trusted_root: Path
) -> None:
    """Wrong signer, wrong issuer and a modified file: three findings in one run."""
    folder = _model(tmp_path / "llama-mini")
    intruder = instance.issue("intruder@example.test", "https://accounts.other.invalid")
    bundle = _sign_directory(instance, intruder, folder)
    (folder / "config.json").write_text('{"architectures": ["Backdoored"]}')
    result = _verify(cli, folder, bundle, trusted_root)
    assert result.exit_code == 1
    findings = json.loads(result.stdout)["findings"]
    assert sorted((f["rule_id"], f["location"]["resource"]) for f in findings) == [
        ("bundle-file-modified", "config.json"),
        ("bundle-identity-mismatch", ""),
        ("bundle-issuer-mismatch", ""),
    ]


def _swap_payload(bundle: dict[str, Any]) -> dict[str, Any]:
    """The envelope now carries another (valid) manifest than the one that was signed."""
    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "0" * 64
    bundle["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return bundle


@pytest.mark.parametrize(
    ("tamper", "rule"),
    [
        (
            lambda inst, s, payload: _swap_payload(inst.sign_dsse(s, payload)),
            "bundle-signature-invalid",
        ),
        (
            lambda inst, s, payload: inst.sign_dsse(s, payload, logged_for=b"{}"),
            "bundle-tlog-mismatch",
        ),
    ],
    ids=["swapped manifest", "log entry for another payload"],
)
def test_a_tampered_folder_bundle_is_refused(
    cli: Cli,
    instance: PrivateSigstore,
    signer: Signer,
    tmp_path: Path,
    trusted_root: Path,
    tamper: Callable[[PrivateSigstore, Signer, bytes], dict[str, Any]],
    rule: str,
) -> None:
    folder = _model(tmp_path / "llama-mini")
    payload = base64.b64decode(sign.sign_directory(folder, signer.key)["dsseEnvelope"]["payload"])
    result = _verify(cli, folder, tamper(instance, signer, payload), trusted_root)
    assert result.exit_code == 1
    assert _rules(result) == [rule]


def test_both_fulcio_issuer_extensions_must_name_the_pinned_issuer(
    cli: Cli, instance: PrivateSigstore, artifact: Path, trusted_root: Path
) -> None:
    """Current Fulcio writes 1.3.6.1.4.1.57264.1.8 (v1 .1.1 is deprecated): either is read, and a
    certificate whose two extensions disagree is refused whichever one matches."""
    current_only = instance.issue(IDENTITY, ISSUER, issuer_extensions=("v2",))
    bundle = instance.sign_message(current_only, artifact.read_bytes())
    assert _verify(cli, artifact, bundle, trusted_root).exit_code == 0
    split = instance.issue(IDENTITY, ISSUER, v1_issuer="https://accounts.other.invalid")
    result = _verify(
        cli, artifact, instance.sign_message(split, artifact.read_bytes()), trusted_root
    )
    assert result.exit_code == 1
    assert _rules(result) == ["bundle-issuer-mismatch"]


def test_the_identity_regexp_must_match_the_whole_identity(
    cli: Cli, instance: PrivateSigstore, artifact: Path, trusted_root: Path
) -> None:
    lookalike = instance.issue("release-bot@example.test.attacker.invalid", ISSUER)
    bundle = instance.sign_message(lookalike, artifact.read_bytes())
    result = cli(
        "bundle",
        "verify",
        str(artifact),
        "-s",
        str(_write(artifact.with_suffix(".json"), bundle)),
        "--certificate-identity-regexp",
        r"release-bot@example\.test",
        "--certificate-oidc-issuer",
        ISSUER,
        "--trusted-root",
        str(trusted_root),
        "-f",
        "json",
    )
    assert result.exit_code == 1
    assert _rules(result) == ["bundle-identity-mismatch"]


def test_a_bundle_that_is_json_but_not_a_bundle_is_refused(
    cli: Cli, instance: PrivateSigstore, signer: Signer, artifact: Path, trusted_root: Path
) -> None:
    bundle = instance.sign_message(signer, artifact.read_bytes())
    bundle["verificationMaterial"]["certificate"]["rawBytes"] = "bm90IGEgY2VydGlmaWNhdGU="
    result = _verify(cli, artifact, bundle, trusted_root)
    assert result.exit_code == 1
    assert _rules(result) == ["bundle-malformed"]
    assert _rules(_verify(cli, artifact, "[1, 2]", trusted_root)) == ["bundle-malformed"]


# --- unusable input and usage: exit 2, one line ---------------------------------------------


def _write(path: Path, data: Any) -> Path:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_truncated_bundle_json_is_an_input_error(
    cli: Cli, instance: PrivateSigstore, signer: Signer, artifact: Path, trusted_root: Path
) -> None:
    text = json.dumps(instance.sign_message(signer, artifact.read_bytes()))
    result = _verify(cli, artifact, text[: len(text) // 2], trusted_root)
    assert result.exit_code == 2
    assert "signature is not JSON (truncated or corrupted?)" in result.stderr


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--key", "k.pub"], "give one or the other"),
        (["--trust-config", "tr.json"], "exactly one of --trust-config, --trusted-root"),
        (["--certificate-identity-regexp", ".*"], "exactly one of --certificate-identity and"),
    ],
)
def test_contradictory_options_are_usage_errors(
    cli: Cli, artifact: Path, trusted_root: Path, options: list[str], expected: str
) -> None:
    result = _verify(cli, artifact, "{}", trusted_root, *options)
    assert result.exit_code == 2
    assert expected in result.stderr


def test_missing_keyless_options_are_usage_errors(cli: Cli, artifact: Path) -> None:
    nothing = cli("bundle", "verify", str(artifact))
    assert nothing.exit_code == 2 and "give --key PUB" in nothing.stderr
    no_issuer = cli(
        "bundle", "verify", str(artifact), "--certificate-identity", IDENTITY, "--trust-config", "x"
    )
    assert no_issuer.exit_code == 2 and "needs --certificate-oidc-issuer" in no_issuer.stderr
    bad_regexp = cli(
        "bundle",
        "verify",
        str(artifact),
        *("--certificate-identity-regexp", "(", "--certificate-oidc-issuer", ISSUER),
        *("--trust-config", "x"),
    )
    assert bad_regexp.exit_code == 2 and "is not a regexp" in bad_regexp.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda root: {"mediaType": "application/json"}, "is neither a Sigstore trusted root"),
        (lambda root: {**root, "ctlogs": []}, "no usable CT log (ctlogs) key"),
        (lambda root: {**root, "certificateAuthorities": []}, "no usable certificate authority"),
        (lambda root: {**root, "tlogs": "none"}, "not a valid trusted root"),
    ],
)
def test_an_unusable_trust_root_is_an_input_error(
    cli: Cli,
    instance: PrivateSigstore,
    signer: Signer,
    artifact: Path,
    tmp_path: Path,
    edit: Callable[[dict[str, Any]], dict[str, Any]],
    expected: str,
) -> None:
    root = _write(tmp_path / "root.json", edit(instance.trusted_root()))
    bundle = instance.sign_message(signer, artifact.read_bytes())
    result = _verify(cli, artifact, bundle, root)
    assert result.exit_code == 2, result.stdout
    assert expected in result.stderr


def test_without_the_sigstore_package_keyless_is_a_clear_usage_error(
    cli: Cli, artifact: Path, trusted_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sigstore.models", None)  # as if it were not installed
    result = _verify(cli, artifact, "{}", trusted_root)
    assert result.exit_code == 2
    assert "keyless verification needs the sigstore package" in result.stderr


def test_identity_policy_refuses_ambiguous_or_empty_input() -> None:
    with pytest.raises(UsageError):
        keyless.IdentityPolicy(issuer=ISSUER, identity=IDENTITY, identity_regexp=".*")
    with pytest.raises(UsageError):
        keyless.IdentityPolicy(issuer="", identity=IDENTITY)
    policy = keyless.IdentityPolicy(issuer=ISSUER, identity_regexp=r".*@example\.test")
    assert policy.matches(IDENTITY) and not policy.matches(f"{IDENTITY}.evil.invalid")


# --- offline, provably -------------------------------------------------------------------------

_AUDIT: dict[str, Any] = {"armed": False, "events": []}


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _AUDIT["armed"]:
        return
    if event.startswith("socket.") or event == "urllib.Request":
        _AUDIT["events"].append((event, repr(args)[:200]))
    elif event == "open" and args and "sigstore" in str(args[0]) and "tuf" in str(args[0]):
        _AUDIT["events"].append((event, str(args[0])))


@pytest.fixture
def network_audit() -> Iterator[list[tuple[str, str]]]:
    """Every socket created or resolved, and every TUF cache file opened, while armed."""
    if not _AUDIT.get("installed"):
        sys.addaudithook(_audit)  # hooks cannot be removed: this one is inert when disarmed
        _AUDIT["installed"] = True
    _AUDIT["events"] = []
    _AUDIT["armed"] = True
    try:
        yield _AUDIT["events"]
    finally:
        _AUDIT["armed"] = False


def test_verification_opens_no_socket_and_reads_no_tuf_cache(
    cli: Cli,
    instance: PrivateSigstore,
    signer: Signer,
    artifact: Path,
    trusted_root: Path,
    network_audit: list[tuple[str, str]],
) -> None:
    import socket

    bundle = instance.sign_message(signer, artifact.read_bytes())
    result = _verify(cli, artifact, bundle, trusted_root)
    assert result.exit_code == 0
    refused = _verify(cli, artifact, instance.sign_message(signer, b"other"), trusted_root)
    assert refused.exit_code == 1
    assert network_audit == []
    socket.socket().close()  # the hook does see sockets: the empty list above means something
    assert [event for event, _ in network_audit] == ["socket.__new__"]


@pytest.mark.root
@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare"
)
def test_verifies_inside_a_network_namespace_without_network(
    instance: PrivateSigstore, signer: Signer, artifact: Path, trusted_root: Path
) -> None:
    _write(Path(f"{artifact}.sigstore.json"), instance.sign_message(signer, artifact.read_bytes()))
    argv = [
        *("unshare", "--net", sys.executable, "-m", "airgap_cli", "bundle", "verify"),
        *(str(artifact), "--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER),
        *("--trusted-root", str(trusted_root)),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "1 files verified" in done.stderr


# --- a second, independent verifier agrees ----------------------------------------------------

JS_VERIFIER = r"""
"use strict";
// For each case: verify a keyless bundle with @sigstore/verify against a trusted root, offline.
const fs = require("fs");
const { toTrustMaterial, Verifier, toSignedEntity } = require("@sigstore/verify");
const { bundleFromJSON } = require("@sigstore/bundle");
const { TrustedRoot } = require("@sigstore/protobuf-specs");
const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
for (const c of cases) {
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(c.root, "utf8")));
  const thresholds = { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 };
  const verifier = new Verifier(toTrustMaterial(root, () => { throw new Error("no keys"); }), thresholds);
  try {
    const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(c.bundle, "utf8")));
    const policy = { subjectAlternativeName: c.identity, extensions: { issuer: c.issuer } };
    verifier.verify(toSignedEntity(bundle, fs.readFileSync(c.artifact)), policy);
    console.log("OK");
  } catch (error) {
    console.log("FAIL", error.code || error.message);
  }
}
"""


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm missing"
)
@pytest.mark.usefixtures("install_sigstore_js")
def test_sigstore_js_reaches_the_same_verdict_on_every_case(
    instance: PrivateSigstore,
    stranger: PrivateSigstore,
    signer: Signer,
    tmp_path: Path,
    trusted_root: Path,
) -> None:
    """@sigstore/verify (another implementation of the same specs) accepts the private instance's
    bundles and refuses each tampered one: the wire formats are Sigstore's, not our own dialect."""
    policy = keyless.IdentityPolicy(issuer=ISSUER, identity=IDENTITY)
    trust = keyless.load_trust_root(trusted_root)
    makers: dict[str, Tamper] = {
        "good": lambda inst, _, s, a: inst.sign_message(s, a.read_bytes()),
        "good v0.1": lambda inst, _, s, a: inst.sign_message(
            s, a.read_bytes(), media_type=BUNDLE_V01
        ),
        **{name: make for name, (make, _, _) in TAMPERED.items() if name != "a key-signed bundle"},
    }
    cases, ours = [], {}
    for number, (name, make) in enumerate(makers.items()):
        artifact = tmp_path / f"case{number}.bin"
        artifact.write_bytes(f"release {number}".encode())
        signature = _write(
            tmp_path / f"case{number}.sigstore.json", make(instance, stranger, signer, artifact)
        )
        ours[name] = keyless.verify_keyless(artifact, signature, trust, policy).verified
        cases.append(
            {
                "root": str(trusted_root),
                "bundle": str(signature),
                "artifact": str(artifact),
                "identity": IDENTITY,
                "issuer": ISSUER,
            }
        )
    script = _write(tmp_path / "verify_keyless.js", JS_VERIFIER)
    listing = _write(tmp_path / "cases.json", cases)
    done = subprocess.run(
        ["node", str(script), str(listing)],
        capture_output=True,
        text=True,
        env={**os.environ, "NODE_PATH": str(PEER / "node_modules")},
        timeout=120,
        check=True,
    )
    theirs = dict(zip(makers, done.stdout.splitlines(), strict=True))
    assert {name: line == "OK" for name, line in theirs.items()} == ours, theirs
    assert ours["good"] and ours["good v0.1"]
    assert sum(ours.values()) == 2


def test_airgap_check_verifies_a_keyless_bundle_pinned_in_airgap_yaml(
    cli: Cli, instance: PrivateSigstore, signer: Signer, tmp_path: Path
) -> None:
    """``bundle.verify`` entries may pin a trust root and identity instead of a key."""
    repo = tmp_path / "repo"
    repo.mkdir()
    artifact = repo / "tool.bin"
    # An ELF-like header: random bytes starting with 0x80 read as a pickle to the model scan
    # that `check` also runs on *.bin (1 run in 256 failed that way).
    artifact.write_bytes(b"\x7fELF" + os.urandom(1020))
    Path(f"{artifact}.sigstore.json").write_text(
        json.dumps(instance.sign_message(signer, artifact.read_bytes()))
    )
    (repo / "trusted_root.json").write_text(json.dumps(instance.trusted_root()))
    config = repo / "airgap.yaml"
    entry = (
        "bundle:\n  verify:\n    - path: tool.bin\n      trusted_root: trusted_root.json\n"
        f"      certificate_oidc_issuer: {ISSUER}\n      certificate_identity: {{identity}}\n"
    )
    config.write_text(entry.format(identity=IDENTITY))
    result = cli("check", str(repo), "-f", "json")
    assert result.exit_code == 0, result.stdout
    config.write_text(entry.format(identity="someone-else@example.test"))
    result = cli("check", str(repo), "-f", "json")
    assert result.exit_code == 1
    assert _rules(result) == ["bundle-identity-mismatch"], result.stdout
    config.write_text(
        entry.format(identity=IDENTITY).replace("      trusted_root: trusted_root.json\n", "")
    )
    result = cli("check", str(repo), "-f", "json")
    assert result.exit_code == 2 and "bundle.verify.0" in result.stderr
