"""``airgap check [PATH]``: every static check the repository's airgap.yaml asks for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from airgap_cli import __version__
from airgap_cli.cli._emit import emit, parse_reports
from airgap_cli.cli._errors import setup_logging, user_errors
from airgap_cli.cli._options import (
    BaselineOpt,
    ConfigOpt,
    FailOnOpt,
    FormatOpt,
    NoColorOpt,
    OutputFormat,
    OutputOpt,
    QuietOpt,
    ReportOpt,
    ShardOpt,
    VerboseOpt,
    WriteBaselineOpt,
)
from airgap_cli.cli.lint import finish, run_lint, with_shard
from airgap_cli.core.config import Config, load_config
from airgap_cli.core.errors import UsageError
from airgap_cli.core.findings import InputIssue, Report, Skipped
from airgap_cli.core.paths import from_cwd

PathArg = Annotated[
    Path, typer.Argument(help="Repository (or directory) to check.", file_okay=False)
]


def check_command(
    path: PathArg = Path("."),
    fmt: FormatOpt = OutputFormat.TEXT,
    output: OutputOpt = None,
    report: ReportOpt = None,
    fail_on: FailOnOpt = None,
    config: ConfigOpt = None,
    baseline: BaselineOpt = None,
    write_baseline_to: WriteBaselineOpt = None,
    shard: ShardOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Every static check of a repository: lint, egress scan, and the bundles airgap.yaml pins."""
    setup_logging(verbose)
    with user_errors(verbose):
        if not path.is_dir():
            raise UsageError("not a directory", path=path)
        extra = parse_reports(report)
        cfg = with_shard(load_config(config, path), shard, write_baseline_to)
        root = cfg.root if cfg.path else path
        targets = [from_cwd(root / p) for p in cfg.lint.paths] or [str(path)]
        combined = Report(command="check", tool_version=__version__)
        for static_check in CHECKS:
            combined.extend(static_check(targets, cfg))
        specs = set(combined.details.pop("openapi_specs", ()))
        combined.skipped = [s for s in combined.skipped if s.path not in specs]  # not skipped
        threshold = finish(combined, cfg, baseline, write_baseline_to, quiet)
    emit(
        combined,
        fmt=fmt.value,
        output=output,
        extra=extra,
        fail_on=fail_on.value if fail_on else threshold,
        quiet=quiet,
        no_color=no_color,
    )


def _lint(targets: list[str], cfg: Config) -> Report:
    return run_lint(targets, cfg)


def _egress_scan(targets: list[str], cfg: Config) -> Report:
    from dataclasses import replace

    from airgap_cli.egress.scan import scan_paths

    # YAML and JSON are the linter's: scanning them again would report the same switch twice.
    lint = replace(cfg.lint, exclude=(*cfg.lint.exclude, "*.yaml", "*.yml", "*.json"))
    return scan_paths(targets, replace(cfg, lint=lint))


def _bundles(targets: list[str], cfg: Config) -> Report:
    """Verify every bundle airgap.yaml pins (fail closed: a missing signature is a finding)."""
    from airgap_cli.bundle import keys, sign
    from airgap_cli.bundle.verify import RULES, verify_path

    report = Report(command="bundle-verify", tool_version=__version__)
    for spec in cfg.bundles:
        if cfg.shard is not None and not cfg.shard.owns(str(spec.path)):
            continue  # another shard verifies it
        signature = spec.signature or sign.default_signature_path(spec.path)
        if not spec.path.exists() or not signature.exists():
            missing = spec.path if not spec.path.exists() else signature
            report.errors.append(InputIssue(str(missing), "bundle or signature not found"))
            continue
        if spec.key is not None:
            public = keys.load_public_key(keys.read_key_file(spec.key), str(spec.key))
            result = verify_path(spec.path, public, signature)
        else:
            from airgap_cli.bundle import keyless

            assert spec.trusted_root is not None and spec.certificate_oidc_issuer is not None
            policy = keyless.IdentityPolicy(
                issuer=spec.certificate_oidc_issuer,
                identity=spec.certificate_identity,
                identity_regexp=spec.certificate_identity_regexp,
            )
            trust = keyless.load_trust_root(spec.trusted_root)
            result = keyless.verify_keyless(spec.path, signature, trust, policy)
            report.rules.update(keyless.KEYLESS_RULES)
        report.findings += result.findings
        report.rules.update(RULES)
    report.extend(_found_bundles(targets, cfg))
    return report


SIGNATURE_SUFFIX = ".sigstore.json"
MODEL_EXTENSIONS = ".safetensors .gguf .bin .pt .pth .ckpt .pkl .pickle .npy .npz .joblib .h5"
MODEL_GLOBS = tuple(f"**/*{ext}" for ext in MODEL_EXTENSIONS.split())
"""Files ``airgap check`` hands to the model scan (classified by content, never loaded)."""


def _found_bundles(targets: list[str], cfg: Config) -> Report:
    """Signed bundles found in the tree (``PATH.sigstore.json`` beside PATH), verified with the
    keys of ``bundle.keys``: one must verify every byte. Without keys they are listed as skipped,
    never silently passed."""
    from airgap_cli.bundle import keys
    from airgap_cli.bundle.verify import RULES, verify_path
    from airgap_cli.lint.documents import discover

    report = Report(command="bundle-verify", tool_version=__version__)
    pinned = {spec.path.resolve() for spec in cfg.bundles}
    globs = (f"**/*{SIGNATURE_SUFFIX}",)
    found = discover(targets, globs, (), cfg.shard).files  # not lint.exclude: *.json
    publics = [keys.load_public_key(keys.read_key_file(k), str(k)) for k in cfg.bundle_keys]
    for signature in found:
        signed = Path(signature[: -len(SIGNATURE_SUFFIX)])
        if not signature.endswith(SIGNATURE_SUFFIX) or signed.resolve() in pinned:
            continue
        if not signed.exists():
            report.errors.append(InputIssue(signature, f"signature for a missing {signed}"))
        elif not publics:
            reason = "signed bundle found; no key in bundle.keys of airgap.yaml to verify it"
            report.skipped.append(Skipped(str(signed), reason))
        else:
            results = [verify_path(signed, public, Path(signature)) for public in publics]
            if any(not r.findings for r in results):
                continue
            # Report what the key that did sign says (changed files), not every other key's
            # "signature invalid".
            signed_by = [
                r
                for r in results
                if all(f.rule_id != "bundle-signature-invalid" for f in r.findings)
            ]
            report.findings += (signed_by or results)[0].findings
            report.rules.update(RULES)
    return report


def _models(targets: list[str], cfg: Config) -> Report:
    """Model files that would execute code when loaded (pickle), found by extension, read by
    content, never loaded or unpickled."""
    from airgap_cli.bundle.modelscan import scan_paths
    from airgap_cli.lint.documents import discover

    files = discover(targets, MODEL_GLOBS, cfg.lint.exclude, cfg.shard).files
    if not files:
        return Report(command="bundle-scan", tool_version=__version__)
    result = scan_paths(files)
    result.details.pop("bundle-scan", None)
    return result


def _openapi(targets: list[str], cfg: Config) -> Report:
    """Validate and lint every spec; with ``openapi.base`` in a git checkout, gate breaking changes.

    Breaking changes count at the level ``openapi.fail_on`` names: lower levels are dropped here
    (``airgap openapi diff`` lists everything).
    """
    from airgap_cli.cli import openapi
    from airgap_cli.openapi.breaking import LEVEL_SEVERITY
    from airgap_cli.openapi.discover import find_specs

    report = Report(command="openapi", tool_version=__version__)
    specs = find_specs(targets, cfg)
    if not specs:
        return report
    ref_map = dict(cfg.openapi.ref_map)
    report.extend(openapi.run_validate(specs, cfg, ref_map))
    report.extend(openapi.run_lint(specs, cfg, ref_map))
    if cfg.openapi.base and cfg.openapi.fail_on != "never":
        settings = openapi.CompareSettings(
            base=cfg.openapi.base,
            ignore=list(cfg.openapi.ignore),
            levels=dict(cfg.openapi.levels),
            ref_map=ref_map,
            breaking_only=True,
        )
        changes = openapi.run_compare("openapi-breaking", specs, settings)
        floor = LEVEL_SEVERITY[cfg.openapi.fail_on].rank
        changes.findings = [f for f in changes.findings if f.severity.rank >= floor]
        report.extend(changes)
    report.details["openapi_specs"] = [str(path) for path in specs]
    return report


CHECKS: list[Callable[[list[str], Config], Report]] = [
    _lint,
    _egress_scan,
    _bundles,
    _models,
    _openapi,
]
"""The static checks ``airgap check`` runs, in order; each pillar adds its own."""
