"""`BACKEND_DOCKER_HOST`: the Docker daemon addresses the driver (aiodocker) can reach.

Accepted, as Docker writes them: `unix:///absolute/path.sock`,
`tcp://host:port`, `http://host[:port]`, `https://host[:port]` and
`npipe:////./pipe/name`. Anything else is refused with the reason, so that a
typo stops the start instead of every game start failing later. `ssh://` is
refused too: aiodocker needs asyncssh for it, which is not installed.
"""

from urllib.parse import urlsplit

_SCHEMES = "unix://, tcp://, http://, https:// or npipe://"


def parse_docker_host(text: str) -> str:
    """The address in its plain form (scheme lower-cased, no trailing slash); ValueError why not."""
    value = text.strip()
    if not value:
        raise ValueError("the Docker host is empty (for example unix:///var/run/docker.sock)")
    scheme, sep, rest = value.partition("://")
    if not sep:
        if value.startswith("/"):
            raise ValueError(f"{value!r} has no scheme: a socket is written unix://{value}")
        raise ValueError(
            f"{value!r} has no scheme: write unix:///path/to/docker.sock or tcp://host:port"
        )
    scheme = scheme.lower()
    if any(c.isspace() for c in rest):
        raise ValueError(f"{_shown(scheme, rest)!r} contains whitespace")
    if scheme == "unix":
        if not rest.startswith("/") or rest == "/":
            raise ValueError(
                f"{value!r} needs an absolute socket path, as in unix:///var/run/docker.sock"
            )
        return f"unix://{rest}"
    if scheme == "npipe":
        if not rest.strip("/"):
            raise ValueError(f"{value!r} names no pipe, as in npipe:////./pipe/docker_engine")
        return f"npipe://{rest}"
    if scheme == "ssh":
        raise ValueError(f"{value!r}: ssh:// is not supported here; use {_SCHEMES}")
    if scheme not in ("tcp", "http", "https"):
        raise ValueError(f"{_shown(scheme, rest)!r} has an unknown scheme; use {_SCHEMES}")
    return _network_address(scheme, rest)


def _network_address(scheme: str, rest: str) -> str:
    shown = _shown(scheme, rest)
    parts = urlsplit(f"{scheme}://{rest}")
    if "@" in parts.netloc:
        raise ValueError(f"{shown!r}: a Docker host carries no credentials (use TLS certificates)")
    if parts.query or parts.fragment:
        raise ValueError(f"{shown!r}: a Docker host has no query or fragment")
    if parts.path not in ("", "/"):
        raise ValueError(f"{shown!r}: a Docker host has no path ({parts.path})")
    if not parts.hostname:
        raise ValueError(f"{shown!r} has no host")
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{shown!r} has no port between 1 and 65535")
    if port is None and scheme == "tcp":
        raise ValueError(
            f"{shown!r} has no port (Docker listens on 2375, or 2376 with TLS): tcp://host:port"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def _shown(scheme: str, rest: str) -> str:
    """The address as quoted in a refusal: any credentials before an @ left out."""
    netloc, slash, tail = rest.partition("/")
    if "@" in netloc:
        netloc = "…@" + netloc.rpartition("@")[2]
    return f"{scheme}://{netloc}{slash}{tail}"
