"""`python -m policy_engine`: the `policy` command."""

from policy_engine.cli import main

main()
