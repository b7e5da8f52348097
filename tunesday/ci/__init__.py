"""Static checks run in CI (no warehouse connection needed)."""
