"""What a pipeline may be called."""

from __future__ import annotations

import re

from dataplatform.errors import UserError

PIPELINE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RESERVED = {"shared"}


def check_pipeline_name(name: str) -> None:
    """Raise a one-line UserError unless `name` can be a new pipeline's folder and dbt project."""
    if not name:
        raise UserError("the pipeline name is empty — give one like sales_daily")
    if "/" in name or "\\" in name or ".." in name:
        raise UserError(f"pipeline name {name!r} contains a path — give a plain name like "
                        "sales_daily")
    if name.startswith("_"):
        raise UserError(f"pipeline name {name!r} starts with '_', which marks templates — "
                        "drop the underscore")
    if name in RESERVED:
        raise UserError(f"pipeline name {name!r} is reserved for pipelines/{name}/ — choose "
                        "another")
    if not PIPELINE_NAME.match(name):
        raise UserError(f"pipeline name {name!r} is not a lowercase identifier — use a-z, 0-9 "
                        "and _, starting with a letter, at most 63 characters")
