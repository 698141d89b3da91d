"""``airgap bundle keygen | sign | verify | scan``: offline provenance for models and releases."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from airgap_cli import __version__
from airgap_cli.cli._emit import emit, parse_reports, write_atomic
from airgap_cli.cli._errors import setup_logging, user_errors
from airgap_cli.cli._options import (
    FailOnOpt,
    FormatOpt,
    NoColorOpt,
    OutputFormat,
    OutputOpt,
    QuietOpt,
    ReportOpt,
    VerboseOpt,
)
from airgap_cli.core.errors import InputError, UsageError
from airgap_cli.core.findings import Report

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

app = typer.Typer(
    name="bundle",
    help="Hash-pin, sign and verify release bundles offline; scan model files for code execution.",
    no_args_is_help=True,
)

KeyOpt = Annotated[Path, typer.Option("--key", "-k", help="Key file.", dir_okay=False)]
PathArg = Annotated[Path, typer.Argument(help="A directory, a tarball or a single file.")]


def signing_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """Load a signing key, asking for the password only when the file is encrypted."""
    from airgap_cli.bundle import keys

    data = keys.read_key_file(path)
    password = (
        keys.password_from_env_or_prompt(confirm=False)
        if keys.needs_password(data, str(path))
        else None
    )
    return keys.load_private_key(data, password, str(path))


@app.command("keygen")
def keygen_command(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Writes PREFIX.key (encrypted, 0600) and PREFIX.pub."),
    ] = Path("airgap"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing key files.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """ECDSA P-256 key pair; the private key in cosign's encrypted format (COSIGN_PASSWORD or a prompt)."""
    from airgap_cli.bundle import keys

    setup_logging(verbose)
    with user_errors(verbose):
        password = keys.password_from_env_or_prompt(confirm=True)
        private, public = keys.write_keypair(output, password, force=force)
    typer.echo(f"wrote {private} (private, encrypted) and {public} (public)", err=True)


@app.command("sign")
def sign_command(
    path: PathArg,
    key: KeyOpt,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Signature file [default: PATH.sigstore.json].", dir_okay=False
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            help="gitignore-style pattern left out of a directory (recorded in the signature).",
        ),
    ] = None,
    shard_size: Annotated[
        str | None,
        typer.Option(
            "--shard-size",
            help="Directories: hash each file in shards of this size (e.g. 128MiB), "
            "model-signing's shards method: one huge file is hashed on every core.",
            metavar="<size>",
        ),
    ] = None,
    allow_unsafe_formats: Annotated[
        bool,
        typer.Option(
            "--allow-unsafe-formats",
            help="Sign even when a model file can execute code when loaded.",
        ),
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Hash-pin every file and sign the manifest (directories: DSSE + model-signing predicate)."""
    from airgap_cli.bundle import sign
    from airgap_cli.bundle.digest import parse_size

    setup_logging(verbose)
    with user_errors(verbose):
        if not path.exists():
            raise InputError("no such file or directory", path=path)
        target = output or sign.default_signature_path(path)
        if path.is_dir() and target.resolve().is_relative_to(path.resolve()):
            raise UsageError(
                "the signature must not be written inside the signed directory", path=target
            )
        try:
            shards = parse_size(shard_size) if shard_size is not None else None
        except ValueError as exc:
            raise UsageError(f"--shard-size: {exc}") from exc
        if shards is not None and not path.is_dir():
            raise UsageError("--shard-size applies to directories (a file is signed whole)")
        # Every core hashes while this thread scans for unsafe formats and decrypts the key.
        with sign.start_signing(path, ignore=list(ignore or []), shard_size=shards) as pending:
            _refuse_unsafe_formats(path, allow_unsafe_formats)
            bundle = pending.sign(signing_key(key))
        write_atomic(target, json.dumps(bundle, indent=2) + "\n")
    typer.echo(f"signed {path} -> {target}", err=True)


def _refuse_unsafe_formats(path: Path, allowed: bool) -> None:
    """Exit 1, naming each file, when a model file would execute code when loaded."""
    from airgap_cli.bundle.modelscan import scan_paths

    scanned = scan_paths([str(path)])
    unsafe = [f for f in scanned.findings if f.severity.value == "critical"]
    if unsafe and not allowed:
        for finding in unsafe:
            typer.echo(f"refused: {finding.location.path}: {finding.message}", err=True)
        typer.echo(
            "error: the bundle holds files that execute code when loaded "
            "(--allow-unsafe-formats to sign anyway)",
            err=True,
        )
        raise typer.Exit(1)


CertIdentityOpt = Annotated[
    str | None,
    typer.Option(
        "--certificate-identity",
        help="Keyless: the signer's exact identity (certificate SAN: email or URI).",
    ),
]
CertIdentityRegexpOpt = Annotated[
    str | None,
    typer.Option(
        "--certificate-identity-regexp",
        help="Keyless: a regexp that must match the whole SAN (anchored, unlike cosign).",
    ),
]
CertIssuerOpt = Annotated[
    str | None,
    typer.Option(
        "--certificate-oidc-issuer",
        help="Keyless: the OIDC issuer that vouched for the identity.",
    ),
]
TrustConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--trust-config",
        help="Keyless: pinned ClientTrustConfig or trusted_root.json (no TUF, no network).",
        dir_okay=False,
    ),
]
TrustedRootOpt = Annotated[
    Path | None,
    typer.Option(
        "--trusted-root",
        help="Keyless: pinned trusted_root.json (cosign's name for --trust-config).",
        dir_okay=False,
    ),
]


def _check_key_or_keyless(key: Path | None, keyless_options: list[object]) -> bool:
    """True for keyless verification; ``UsageError`` unless exactly one mode is asked for."""
    keyless = any(v is not None for v in keyless_options)
    if key is not None and keyless:
        raise UsageError(
            "--key verifies a key-signed bundle; --certificate-* and --trust-config/"
            "--trusted-root verify a keyless one: give one or the other"
        )
    if key is None and not keyless:
        raise UsageError(
            "give --key PUB for a key-signed bundle, or --certificate-identity(-regexp), "
            "--certificate-oidc-issuer and --trust-config for a keyless one"
        )
    return keyless


@app.command("verify")
def verify_command(
    path: PathArg,
    key: Annotated[
        Path | None,
        typer.Option("--key", "-k", help="Pinned public key (key-signed bundles).", dir_okay=False),
    ] = None,
    signature: Annotated[
        Path | None,
        typer.Option(
            "--signature",
            "-s",
            help="Signature file [default: PATH.sigstore.json].",
            dir_okay=False,
        ),
    ] = None,
    certificate_identity: CertIdentityOpt = None,
    certificate_identity_regexp: CertIdentityRegexpOpt = None,
    certificate_oidc_issuer: CertIssuerOpt = None,
    trust_config: TrustConfigOpt = None,
    trusted_root: TrustedRootOpt = None,
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    report: ReportOpt = None,
    fail_on: FailOnOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Refuse unless every byte matches what the pinned key or identity signed (fail closed)."""
    from airgap_cli.bundle import keys, sign
    from airgap_cli.bundle.verify import RULES, verify_path

    setup_logging(verbose)
    with user_errors(verbose):
        extra = parse_reports(report)
        keyless = _check_key_or_keyless(
            key,
            [
                certificate_identity,
                certificate_identity_regexp,
                certificate_oidc_issuer,
                trust_config,
                trusted_root,
            ],
        )
        if not path.exists():
            raise InputError("no such file or directory", path=path)
        sig = signature or sign.default_signature_path(path)
        verdict = Report(command="bundle-verify", tool_version=__version__)
        verdict.rules.update(RULES)
        if keyless:
            from airgap_cli.bundle import keyless as kl

            policy, root = kl.policy_from_options(
                identity=certificate_identity,
                identity_regexp=certificate_identity_regexp,
                issuer=certificate_oidc_issuer,
                trust_config=trust_config,
                trusted_root=trusted_root,
            )
            trust = kl.load_trust_root(root)
            if not sig.exists():
                raise InputError("signature file not found", path=sig)
            result = kl.verify_keyless(path, sig, trust, policy)
            verdict.rules.update(kl.KEYLESS_RULES)
            signer = f"{policy.describe()} ({policy.issuer}) under {root}"
        else:
            assert key is not None  # _check_key_or_keyless refused the other case
            public = keys.load_public_key(keys.read_key_file(key), str(key))
            if not sig.exists():
                raise InputError("signature file not found", path=sig)
            from airgap_cli.bundle import attest

            kind = attest.attestation_type(sig)
            if kind == attest.CYCLONEDX_PREDICATE:
                result = attest.verify_mlbom(path, public, sig)
            elif kind == attest.AUDIT_PREDICATE:
                result = attest.verify_report(path, [public], sig)
            else:
                result = verify_path(path, public, sig)
            signer = str(key)
        verdict.findings += result.findings
        verdict.details["bundle"] = {
            "path": str(path),
            "signature": str(sig),
            "verified": result.verified,
            "files": result.files,
            "kind": result.kind,
        }
        if keyless:
            verdict.details["bundle"]["keyless"] = {
                k: result.details.get(k)
                for k in ("identities", "issuers", "integrated_time", "trust_root")
            }
    if result.verified and not quiet:
        typer.echo(f"OK: {path}: {result.files} files verified against {signer}", err=True)
    emit(
        verdict,
        fmt=fmt.value,
        output=output,
        extra=extra,
        fail_on=fail_on.value if fail_on else "info",
        quiet=quiet,
        no_color=no_color,
    )


@app.command("scan")
def scan_command(
    paths: Annotated[list[str], typer.Argument(help="Model files or directories.")],
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    report: ReportOpt = None,
    fail_on: FailOnOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Model files that execute code when loaded (pickle), without loading anything."""
    from airgap_cli.bundle.modelscan import scan_paths

    setup_logging(verbose)
    with user_errors(verbose):
        extra = parse_reports(report)
        for item in paths:
            if not os.path.exists(item):
                raise InputError("no such file or directory", path=item)
        result = scan_paths(paths)
    emit(
        result,
        fmt=fmt.value,
        output=output,
        extra=extra,
        fail_on=fail_on.value if fail_on else "high",
        quiet=quiet,
        no_color=no_color,
    )


@app.command("mlbom")
def mlbom_command(
    path: Annotated[Path, typer.Argument(help="A model directory.", file_okay=False)],
    output: OutputOpt = None,
    spec_version: Annotated[
        str, typer.Option("--spec-version", help="CycloneDX version: 1.6 or 1.7.")
    ] = "1.6",
    sign: Annotated[
        bool,
        typer.Option(
            "--sign", help="Also write a DSSE attestation binding it to the folder's digest."
        ),
    ] = False,
    key: Annotated[
        Path | None, typer.Option("--key", "-k", help="Private key for --sign.", dir_okay=False)
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """CycloneDX MLBOM of a model folder (model card, datasets, base models, files, licenses)."""
    from airgap_cli.bundle.attest import sign_mlbom
    from airgap_cli.bundle.mlbom import build_mlbom

    setup_logging(verbose)
    with user_errors(verbose):
        if not path.is_dir():
            raise InputError("not a directory", path=path)
        if spec_version not in ("1.6", "1.7"):
            raise UsageError(f"--spec-version must be 1.6 or 1.7, not {spec_version!r}")
        if sign and key is None:
            raise UsageError("--sign needs --key")
        text, findings = build_mlbom(path, spec_version=spec_version)
        attestation = None
        if sign and key is not None:
            attestation = sign_mlbom(path, text, signing_key(key))
        if output is not None:
            write_atomic(output, text)
        else:
            typer.echo(text, nl=not text.endswith("\n"))
        if attestation is not None:
            target = (
                Path(f"{output}.sigstore.json")
                if output
                else path.with_name(f"{path.name}.mlbom.sigstore.json")
            )
            write_atomic(target, json.dumps(attestation, indent=2) + "\n")
            typer.echo(f"signed MLBOM attestation -> {target}", err=True)
    for finding in findings:
        typer.echo(f"{finding.severity.value}: {finding.rule_id}: {finding.message}", err=True)
