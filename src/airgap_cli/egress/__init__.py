"""Egress audit: run a workload in a default-deny network namespace and record every outbound
attempt (DNS names, TCP/UDP destinations, TLS SNI / HTTP Host) with the process that made it."""
