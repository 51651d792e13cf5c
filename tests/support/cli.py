"""One CLI run as the tests see it, its JSON validated against the shipped schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema

SCHEMA = json.loads(resources.files("pcie_failover").joinpath("schema/output-1.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class Run:
    """One CLI run: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        """stdout parsed as JSON and validated against the shipped schema."""
        document = json.loads(self.out)
        VALIDATOR.validate(document)
        return document
