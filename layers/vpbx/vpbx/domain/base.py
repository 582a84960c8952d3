"""Shared pydantic base and constrained types for the domain."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Extension = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,6}$")]
"""A subscriber's short internal number: 1–6 digits."""

ResourceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]
"""Identifier chosen by the client or generated: letters, digits, `_`, `.`, `-`; at most 64 characters."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
ShortText = Annotated[str, StringConstraints(max_length=1000)]


class LazyModel(BaseModel):
    """Base of every vpbx model. Its validator and serializer are built on first use, not when the class is defined:
    a Lambda function defines ~100 models and a request uses a few, so building them all would tax every cold start
    (bench/cold_start_bench.py measures it)."""

    model_config = ConfigDict(defer_build=True)


class StrictModel(LazyModel):
    """Rejects unknown fields so that typos and mass-assignment attempts fail loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)
