"""`python -m policy_engine`: the `policy` command."""

from policy_engine.launch import main

main()
