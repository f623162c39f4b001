"""Business rules: naming, ownership, semver, immutability, forks. Routes call these."""
