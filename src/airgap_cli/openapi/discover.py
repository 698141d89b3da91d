"""Find the OpenAPI specs in a tree without parsing every YAML file twice."""

from __future__ import annotations

import re
from pathlib import Path

import pathspec

from airgap_cli.core.config import Config
from airgap_cli.lint.documents import discover

_SNIFF_BYTES = 64 * 1024
_YAML_MARK = re.compile(rb"^(?:openapi|swagger)\s*:\s*[\"']?[23]\.", re.MULTILINE)
_JSON_MARK = re.compile(rb'"(?:openapi|swagger)"\s*:\s*"[23]\.')


def looks_like_spec(path: str) -> bool:
    """True when the file's top level names an OpenAPI/Swagger version (read from the head only)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    if path.endswith(".json"):
        return bool(_JSON_MARK.search(head))
    return bool(_YAML_MARK.search(head))


def find_specs(targets: list[str], cfg: Config) -> list[Path]:
    """Specs under ``targets``: ``openapi.specs`` globs when configured, else sniffed files."""
    found = discover(targets, cfg.lint.include, cfg.lint.exclude, cfg.shard)
    if cfg.openapi.specs:
        wanted = pathspec.GitIgnoreSpec.from_lines(cfg.openapi.specs)
        root = cfg.root.resolve()
        chosen = []
        for file in found.files:
            try:
                relative = Path(file).resolve().relative_to(root).as_posix()
            except ValueError:
                continue
            if wanted.match_file(relative):
                chosen.append(Path(file))
        return chosen
    return [Path(file) for file in found.files if file != "-" and looks_like_spec(file)]
