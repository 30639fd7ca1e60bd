"""BACKEND_DOCKER_HOST: the addresses aiodocker can reach, and a clear reason for anything else."""

from __future__ import annotations

import pytest

from galaxy.domain.docker_host import parse_docker_host


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("  unix:///tmp/galaxy-dockerd/docker.sock\n", "unix:///tmp/galaxy-dockerd/docker.sock"),
        ("UNIX:///run/user/1000/docker.sock", "unix:///run/user/1000/docker.sock"),
        ("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375"),
        ("tcp://docker.internal:2376/", "tcp://docker.internal:2376"),
        ("tcp://[::1]:2375", "tcp://[::1]:2375"),
        ("http://docker-proxy:2375", "http://docker-proxy:2375"),
        ("https://docker.example.org:2376", "https://docker.example.org:2376"),
        ("https://docker.example.org", "https://docker.example.org"),
        ("npipe:////./pipe/docker_engine", "npipe:////./pipe/docker_engine"),
    ],
)
def test_the_forms_docker_and_aiodocker_share_are_accepted(text: str, parsed: str) -> None:
    assert parse_docker_host(text) == parsed


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("docker:2375", "no scheme"),
        ("unix://", "absolute socket path"),
        ("unix://docker.sock", "absolute socket path"),
        ("unix:///", "absolute socket path"),
        ("tcp://127.0.0.1", "no port"),
        ("tcp://:2375", "no host"),
        ("tcp://127.0.0.1:99999", "port"),
        ("tcp://127.0.0.1:docker", "port"),
        ("http://127.0.0.1:0", "port"),
        ("tcp://127.0.0.1:2375/v1.41", "path"),
        ("tcp://127.0.0.1:2375?tls=1", "query"),
        ("tcp://user:secret@127.0.0.1:2375", "credentials"),
        ("tcp://docker host:2375", "whitespace"),
        ("ssh://me@docker-host", "ssh"),
        ("fd://", "scheme"),
        ("npipe://", "pipe"),
    ],
)
def test_anything_else_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_docker_host(text)


def test_a_refusal_quotes_the_value_but_never_credentials() -> None:
    with pytest.raises(ValueError, match="credentials") as refused:
        parse_docker_host("tcp://user:secret@127.0.0.1:2375")
    assert "secret" not in str(refused.value)
    with pytest.raises(ValueError, match="'docker:2375'"):
        parse_docker_host("docker:2375")


def test_the_plain_form_drops_what_means_nothing() -> None:
    assert parse_docker_host("HTTPS://Docker.Example.org:/") == "https://docker.example.org"
    assert parse_docker_host("tcp://[::1]:2375/") == "tcp://[::1]:2375"
