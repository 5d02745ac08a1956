"""What orchestration is declared: the repo-wide settings (`platform/orchestration/
orchestration.yaml`) and each pipeline's `orchestration:` section, validated into frozen
objects. Every bad value is one `ConfigError` naming file, line and key."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataplatform.config.validate import check_keys, expect, optional
from dataplatform.config.yamlsource import KeyPath, YamlDocument, load_yaml, parse_yaml
from dataplatform.project import Project
from dataplatform.services.durations import parse_duration

ENGINES = ("airflow", "dagster")
PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
    "@annually",
)
# Where an extra task runs, relative to the generated ones.
STAGES = ("start", "ddl", "dbt")
SECTION_KEYS = (
    "engine",
    "dag_id",
    "schedule",
    "owner",
    "tags",
    "retries",
    "retry_delay",
    "start_date",
    "catchup",
    "dbt",
    "cdc_ddl",
    "tasks",
    "requirements",
)
DEFAULT_KEYS = ("schedule", "retries", "retry_delay", "start_date", "catchup")
TASK_KEYS = ("id", "bash", "after")
SETTINGS_KEYS = ("default_engine", "defaults", "policies", "airflow", "dagster", "stubs")
POLICY_KEYS = ("require_owner", "require_tags", "min_retries")
ENGINE_KEYS = ("lock",)
STUB_KEYS = ("variables",)
_IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,\-#LW]+")

BUILTIN_SETTINGS = """
default_engine: airflow
defaults: {schedule: "@daily", retries: 2, retry_delay: 5m, start_date: 2024-01-01,
           catchup: false}
policies: {require_owner: true, require_tags: false, min_retries: 0}
airflow: {lock: locks/airflow-2.10.txt}
dagster: {lock: locks/dagster-1.11.txt}
"""


@dataclass(frozen=True)
class Policies:
    require_owner: bool
    require_tags: bool
    min_retries: int


@dataclass(frozen=True)
class Defaults:
    schedule: str | None
    retries: int
    retry_delay_seconds: int
    start_date: str
    catchup: bool


@dataclass(frozen=True)
class Settings:
    file: str  # as shown in messages
    default_engine: str
    defaults: Defaults
    policies: Policies
    locks: dict[str, Path]  # engine → lock file (absolute)
    stub_variables: dict[str, str]


@dataclass(frozen=True)
class ExtraTask:
    id: str
    bash: str
    after: str  # a stage or another extra task's id


@dataclass(frozen=True)
class Orchestration:
    """One pipeline's orchestration, defaults applied."""

    engine: str
    dag_id: str
    schedule: str | None
    owner: str
    tags: tuple[str, ...]
    retries: int
    retry_delay_seconds: int
    start_date: str  # ISO date
    catchup: bool
    dbt: bool | None  # None: run dbt when the pipeline has a dbt project
    cdc_ddl: bool | None  # None: deploy CDC DDL when the pipeline has CDC tables
    tasks: tuple[ExtraTask, ...]
    # Python packages the pipeline's DAG code imports: each must be in the engine's lock
    requirements: tuple[str, ...] = ()


def load_settings(project: Project) -> Settings:
    path = project.orchestration_settings_file
    if path.is_file():
        doc = load_yaml(path, project.relative(path))
    else:
        doc = parse_yaml(BUILTIN_SETTINGS, "(built-in orchestration settings)")
    return _parse_settings(doc, path.parent)


def _parse_settings(doc: YamlDocument, base: Path) -> Settings:
    data = doc.data if doc.data is not None else {}
    expect(
        doc,
        (),
        data,
        dict,
        "orchestration.yaml is a mapping of default_engine, defaults, policies, ...",
    )
    check_keys(doc, (), data, SETTINGS_KEYS)
    engine = optional(doc, (), data, "default_engine", str, "airflow")
    if engine not in ENGINES:
        raise doc.error(
            ("default_engine",), f"unknown engine {engine!r}", f"use one of {', '.join(ENGINES)}"
        )
    defaults = optional(doc, (), data, "defaults", dict, {})
    check_keys(doc, ("defaults",), defaults, DEFAULT_KEYS)
    at = ("defaults",)
    resolved = Defaults(
        schedule=_schedule(doc, at, defaults, "@daily"),
        retries=_retries(doc, at, defaults, 0),
        retry_delay_seconds=_retry_delay(doc, at, defaults, 300),
        start_date=_start_date(doc, at, defaults, "2024-01-01"),
        catchup=optional(doc, at, defaults, "catchup", bool, False),
    )
    policies = optional(doc, (), data, "policies", dict, {})
    check_keys(doc, ("policies",), policies, POLICY_KEYS)
    locks: dict[str, Path] = {}
    for name in ENGINES:
        section = optional(doc, (), data, name, dict, {})
        check_keys(doc, (name,), section, ENGINE_KEYS)
        lock = optional(doc, (name,), section, "lock", str, f"locks/{name}.txt")
        locks[name] = (base / lock).resolve()
    stubs = optional(doc, (), data, "stubs", dict, {})
    check_keys(doc, ("stubs",), stubs, STUB_KEYS)
    variables = optional(doc, ("stubs",), stubs, "variables", dict, {})
    for key, value in variables.items():
        expect(
            doc,
            ("stubs", "variables", str(key)),
            value,
            str,
            "stub values are strings (JSON text for JSON variables)",
        )
    return Settings(
        file=doc.display,
        default_engine=engine,
        defaults=resolved,
        policies=Policies(
            require_owner=optional(doc, ("policies",), policies, "require_owner", bool, False),
            require_tags=optional(doc, ("policies",), policies, "require_tags", bool, False),
            min_retries=_non_negative(doc, ("policies",), policies, "min_retries", 0),
        ),
        locks=locks,
        stub_variables={str(k): v for k, v in variables.items()},
    )


def _non_negative(doc: YamlDocument, keypath: KeyPath, data: dict, key: str, default: int) -> int:
    value = optional(doc, keypath, data, key, int, default)
    if value < 0:
        raise doc.error((*keypath, key), f"must be 0 or more, got {value}")
    return value


def key_absent(data: dict, key: str) -> bool:
    return key not in data or data[key] is None


def _schedule(doc: YamlDocument, keypath: KeyPath, data: dict, default: str | None) -> str | None:
    """A preset or cron expression; an explicit null means: not scheduled."""
    if key_absent(data, "schedule"):
        return default if "schedule" not in data else None
    value = expect(
        doc,
        (*keypath, "schedule"),
        data["schedule"],
        str,
        "a cron expression such as '0 6 * * *', a preset such as @daily, or null",
    )
    text = value.strip()
    if text.startswith("@"):
        if text not in PRESETS:
            raise doc.error(
                (*keypath, "schedule"),
                f"unknown preset {text!r}",
                f"use one of {', '.join(PRESETS)}, a cron expression, or null",
            )
        return text
    fields = text.split()
    if len(fields) not in (5, 6) or not all(_CRON_FIELD.fullmatch(f) for f in fields):
        raise doc.error(
            (*keypath, "schedule"),
            f"{text!r} is not a cron expression",
            "write five fields (minute hour day month weekday), e.g. '0 6 * * *', "
            "or a preset such as @daily",
        )
    return " ".join(fields)


def _retries(doc: YamlDocument, keypath: KeyPath, data: dict, default: int) -> int:
    return _non_negative(doc, keypath, data, "retries", default)


def _retry_delay(doc: YamlDocument, keypath: KeyPath, data: dict, default: int) -> int:
    if key_absent(data, "retry_delay"):
        return default
    seconds = parse_duration(data["retry_delay"])
    if seconds is None or seconds < 0:
        raise doc.error(
            (*keypath, "retry_delay"),
            f"{data['retry_delay']!r} is not a duration",
            "write e.g. 30s, 5m or 1h",
        )
    return int(seconds)


def _start_date(doc: YamlDocument, keypath: KeyPath, data: dict, default: str) -> str:
    if key_absent(data, "start_date"):
        return default
    value = data["start_date"]
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise doc.error(
        (*keypath, "start_date"),
        f"{value!r} is not a date",
        "write it as YYYY-MM-DD, e.g. 2024-01-01",
    )


def parse_orchestration(
    doc: YamlDocument,
    keypath: KeyPath,
    data: Any,
    settings: Settings,
    pipeline: str,
    pipeline_owner: str,
) -> Orchestration:
    """The `orchestration:` section at `keypath` of `doc` (an empty section is all defaults)."""
    data = data if data is not None else {}
    expect(doc, keypath, data, dict, "orchestration is a mapping of engine, schedule, owner, ...")
    check_keys(doc, keypath, data, SECTION_KEYS)
    defaults = settings.defaults
    engine = optional(doc, keypath, data, "engine", str, settings.default_engine)
    if engine not in ENGINES:
        raise doc.error(
            (*keypath, "engine"), f"unknown engine {engine!r}", f"use one of {', '.join(ENGINES)}"
        )
    dag_id = optional(doc, keypath, data, "dag_id", str, pipeline)
    if not _IDENTIFIER.fullmatch(dag_id) or len(dag_id) > 250:
        raise doc.error(
            (*keypath, "dag_id"),
            f"{dag_id!r} is not a valid DAG id",
            "use letters, digits, '_', '-' and '.'",
        )
    owner = optional(doc, keypath, data, "owner", str, pipeline_owner) or ""
    tags = optional(doc, keypath, data, "tags", list, [])
    for index, tag in enumerate(tags):
        expect(doc, (*keypath, "tags", index), tag, str)
    tasks = _extra_tasks(doc, (*keypath, "tasks"), optional(doc, keypath, data, "tasks", list, []))
    schedule = _schedule(doc, keypath, data, defaults.schedule)
    if engine == "dagster" and schedule in ("@once", "@continuous"):
        raise doc.error(
            (*keypath, "schedule"),
            f"Dagster has no {schedule} schedule",
            "use a cron expression, another preset, or null",
        )
    return Orchestration(
        engine=engine,
        dag_id=dag_id,
        schedule=schedule,
        owner=owner.strip(),
        tags=tuple(tags),
        retries=_retries(doc, keypath, data, defaults.retries),
        retry_delay_seconds=_retry_delay(doc, keypath, data, defaults.retry_delay_seconds),
        start_date=_start_date(doc, keypath, data, defaults.start_date),
        catchup=optional(doc, keypath, data, "catchup", bool, defaults.catchup),
        dbt=optional(doc, keypath, data, "dbt", bool, None),
        cdc_ddl=optional(doc, keypath, data, "cdc_ddl", bool, None),
        tasks=tasks,
        requirements=_requirements(
            doc,
            (*keypath, "requirements"),
            optional(doc, keypath, data, "requirements", list, []),
            settings.locks[engine],
        ),
    )


def _requirements(doc: YamlDocument, keypath: KeyPath, items: list, lock: Path) -> tuple[str, ...]:
    """Each requirement must be met by the engine's lock: one environment per engine serves
    every pipeline, in validation and in the platform's image alike."""
    if not items:
        return ()
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    pinned = _pins(lock)
    for index, item in enumerate(items):
        text = expect(doc, (*keypath, index), item, str, "e.g. 'requests>=2.31'")
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            raise doc.error(
                (*keypath, index),
                f"{text!r} is not a requirement",
                "write it as pip does, e.g. 'requests>=2.31'",
            ) from None
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            found = f"it pins {version}" if version else "it does not have it"
            raise doc.error(
                (*keypath, index),
                f"{text!r} is not met by {lock.name} ({found})",
                f"add it to {lock.with_suffix('.in').name} and recompile the lock (see the README)",
            )
    return tuple(items)


def _pins(lock: Path) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    try:
        lines = lock.read_text(encoding="utf-8").splitlines()
    except OSError:
        return pins
    for line in lines:
        name, sep, version = line.split("#", 1)[0].strip().partition("==")
        if sep:
            pins[canonicalize_name(name.split("[")[0])] = version.strip()
    return pins


def _extra_tasks(doc: YamlDocument, keypath: KeyPath, items: list) -> tuple[ExtraTask, ...]:
    seen: list[str] = []
    tasks = []
    for index, item in enumerate(items):
        where = (*keypath, index)
        expect(doc, where, item, dict, "each task is a mapping of id, bash and after")
        check_keys(doc, where, item, TASK_KEYS)
        for required in ("id", "bash"):
            if key_absent(item, required):
                raise doc.error(
                    where,
                    f"a task needs '{required}'",
                    "e.g. {id: notify, bash: 'scripts/notify.sh', after: dbt}",
                )
        task_id = expect(doc, (*where, "id"), item["id"], str)
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_\-]*", task_id) or task_id in STAGES:
            raise doc.error(
                (*where, "id"),
                f"{task_id!r} cannot be a task id",
                f"use letters, digits, '_' and '-', not {', '.join(STAGES)}",
            )
        if task_id in seen:
            raise doc.error(
                (*where, "id"), f"task {task_id!r} is declared twice", "give each task its own id"
            )
        after = optional(doc, where, item, "after", str, "dbt")
        if after not in STAGES and after not in seen:
            raise doc.error(
                (*where, "after"),
                f"{after!r} is neither a stage nor an earlier task",
                f"use {', '.join(STAGES)} or the id of a task listed above",
            )
        tasks.append(ExtraTask(task_id, expect(doc, (*where, "bash"), item["bash"], str), after))
        seen.append(task_id)
    return tuple(tasks)
