"""invoke entry point: the human commands (`invoke --list`). Logic lives in lib/."""

from dataplatform.cli.namespace import build_namespace

namespace = build_namespace()
