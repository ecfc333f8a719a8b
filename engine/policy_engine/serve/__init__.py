"""Serve: `policy serve`, decisions and their explanations over HTTP, every one logged.

A Starlette application on uvicorn (`app`) answers for the policies of a folder (`registry`,
reloaded as the files change), decides with the library (`deciding`), reads request bodies
within limits (`bodies`), checks bearer tokens (`auth`), appends every decision to a decision
log that can be replayed (`records`, `log_writer`), counts what it does (`metrics`) and
describes itself (`openapi`). `config` holds what the command line says; `running` starts
uvicorn. docs/serve.md is the user's guide.
"""

from __future__ import annotations

from policy_engine.serve.config import ServeConfig

__all__ = ["ServeConfig"]
