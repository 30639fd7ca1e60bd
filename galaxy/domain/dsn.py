"""DSN rules: the service owns schema `backend`, so every DSN must select it.

Operators write DSNs the way the seeds show them (pgx style, with
`search_path=backend` as a URI parameter), in libpq's spelling (`options`),
or as key=value pairs. libpq rejects an unknown parameter, so `normalize_dsn`
moves `search_path` into libpq's `options` (`-c search_path=backend`), which
sets it for every pooled connection. The config normalises once, when it is
read; everything after it (migrations, the pool, readiness, the banner) gets
the normalised form.
"""

import re
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

SCHEMA = "backend"
_KEYWORD_SEARCH_PATH = re.compile(
    r"(?:^|\s)search_path\s*=\s*(?:'(?P<quoted>[^']*)'|(?P<bare>\S+))"
)


def _uri_parameters(query: str) -> list[tuple[str, str]]:
    """A URI's query as libpq reads it: percent-decoded, and `+` is a plus, not a space
    (form encoding's rule, which parse_qsl and urlencode's default apply, is not libpq's)."""
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def normalize_dsn(dsn: str) -> str:
    """Return a libpq conninfo string selecting schema `backend`, or raise ValueError."""
    dsn = dsn.strip()
    search_path: str | None = None
    if dsn.startswith(("postgres://", "postgresql://")):
        parts = urlsplit(dsn)
        kept = []
        for key, value in _uri_parameters(parts.query):
            if key == "search_path":
                search_path = value
            else:
                kept.append((key, value))
        dsn = urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))
    elif "search_path" in dsn and not _parses(dsn):
        # libpq refuses a bare `search_path=…` keyword; lift it out first.
        match = _KEYWORD_SEARCH_PATH.search(dsn)
        if match:
            search_path = match.group("quoted") or match.group("bare")
            dsn = dsn[: match.start()] + " " + dsn[match.end() :]
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # libpq's reason quotes the DSN, password and all: not repeated here
        raise ValueError(
            "not a valid PostgreSQL DSN (a postgres:// URI or key=value pairs)"
        ) from None
    if "search_path" in params:
        search_path = str(params.pop("search_path"))
    options = str(params.get("options") or "")
    option_path = _search_path_from_options(options)
    if search_path is not None and option_path is not None and search_path != option_path:
        raise ValueError(
            f"search_path={search_path!r} and options' -c search_path={option_path!r} disagree"
        )
    chosen = search_path if search_path is not None else option_path
    if chosen is None:
        raise ValueError("must include search_path=backend (for example ?search_path=backend)")
    if chosen.split(",")[0].strip().strip('"') != SCHEMA:
        raise ValueError(f"search_path must start with {SCHEMA!r}, not {chosen!r}")
    if option_path is None:
        params["options"] = f"{options} -c search_path={chosen}".strip()
    return make_conninfo("", **params)


# What a log line or the banner may show of a DSN; everything else (password,
# sslpassword, sslkey paths, options...) stays out, whatever libpq adds next.
_SHOWN = ("host", "hostaddr", "port", "dbname", "user", "sslmode", "application_name")


def redact(dsn: str) -> str:
    """A normalised DSN fit for a log line or the banner: only the parameters that say
    where it points, and `password=***` when it has one."""
    params = conninfo_to_dict(dsn)
    shown = {key: params[key] for key in _SHOWN if params.get(key)}
    if params.get("password"):
        shown["password"] = "***"
    return make_conninfo("", **shown)


def server_of(dsn: str) -> str:
    """Where a normalised DSN points, as an operator would name it: `127.0.0.1:5432`."""
    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    return f"{host}:{port}" if not host.startswith("/") else f"{host} (socket, port {port})"


def connection_failure(dsn: str, error: Exception) -> str:
    """libpq's reason for a failed connection, on one line, with the server it tried.

    libpq writes `connection to server at "h" (addr), port p failed: FATAL:  reason`
    and sometimes a hint on the next line; the reason is what an operator acts on.
    """
    text = str(error).strip()
    reason = text.rsplit("failed:", 1)[-1] if "failed:" in text else text
    reason = reason.strip().splitlines()[0].strip() if reason.strip() else text
    reason = reason.removeprefix("FATAL:").strip()
    return f"PostgreSQL at {server_of(dsn)}: {reason}"


def _parses(dsn: str) -> bool:
    try:
        conninfo_to_dict(dsn)
    except Exception:
        return False
    return True


def _search_path_from_options(options: str) -> str | None:
    tokens = options.replace("-c ", "-c").split()
    for token in tokens:
        if token.startswith("-csearch_path="):
            return token.removeprefix("-csearch_path=")
    return None
