"""Names that must be valid somewhere else: Kafka topics, PostgreSQL and T-SQL identifiers,
Redpanda Connect labels. Non-ASCII is transliterated deterministically where the target
demands ASCII (topics, labels) and kept where it is allowed (PostgreSQL quoted identifiers)."""

from __future__ import annotations

import re
import unicodedata

TOPIC_MAX = 249
PG_IDENTIFIER_MAX_BYTES = 63
_NOT_TOPIC = re.compile(r"[^a-zA-Z0-9._-]+")
_NOT_LABEL = re.compile(r"[^a-z0-9_]+")
# Letters NFKD does not decompose into ASCII.
_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
    }
)


def transliterate(text: str) -> str:
    """ASCII spelling of `text`: `Årsak` → `Arsak`, `Søknad` → `Soknad`, `Straße` → `Strasse`."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return (
        "".join(ch for ch in folded if not unicodedata.combining(ch))
        .encode("ascii", "ignore")
        .decode()
    )


def topic_part(text: str) -> str:
    return _NOT_TOPIC.sub("_", transliterate(text)).strip("_").lower() or "_"


def topic(*parts: str) -> str:
    return ".".join(topic_part(p) for p in parts)


def label(*parts: str) -> str:
    joined = "_".join(transliterate(p).lower() for p in parts)
    return _NOT_LABEL.sub("_", joined).strip("_") or "x"


def snake_case(name: str) -> str:
    """`OrderLine` → `order_line`, `HTTPLog` → `http_log`; non-ASCII letters are kept."""
    spaced = re.sub(r"(?<=[^\W_])(?=[A-ZÆØÅ][a-zæøå])|(?<=[a-zæøå0-9])(?=[A-ZÆØÅ])", "_", name)
    return re.sub(r"[^\w]+", "_", spaced).strip("_").lower()


def pg_identifier_problem(name: str) -> str | None:
    if not name:
        return "is empty"
    if len(name.encode()) > PG_IDENTIFIER_MAX_BYTES:
        return (
            f"is {len(name.encode())} bytes long; PostgreSQL truncates identifiers to "
            f"{PG_IDENTIFIER_MAX_BYTES}"
        )
    return None


def pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tsql_quote(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def tsql_string(text: str) -> str:
    return "N'" + text.replace("'", "''") + "'"


def pg_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
