"""``python -m airgap_cli``."""

from airgap_cli.cli import main

main()
