"""Workstation bootstrap: `invoke setup` (prerequisites, `.env` with generated secrets) and
`invoke doctor` (one small check per prerequisite, each with its fix)."""
