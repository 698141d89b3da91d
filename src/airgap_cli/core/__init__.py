"""Shared ground of every pillar: findings, errors, config, YAML input, rules, baselines."""
