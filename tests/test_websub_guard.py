"""The built-in hub's address guard, host name validation and per-network counting, tested as
functions (no test here makes the hub connect to any of these addresses) and through the hub's
endpoint."""

from __future__ import annotations

import ipaddress
import socket
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.core.layout import feed_url
from feedsmith.pipeline import build_site
from feedsmith.publish.websub.guard import address_allowed, host_problem, network_key
from feedsmith.publish.websub.net import check_callback
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from test_serve_e2e import post_text

NOW = datetime(2025, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        # IPv4
        ("93.184.215.14", True),
        ("8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # CGNAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        # plain IPv6
        ("2606:4700::1111", True),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        # IPv4-mapped
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.215.14", True),
        # IPv4-compatible
        ("::127.0.0.1", False),
        ("::169.254.169.254", False),
        ("::93.184.215.14", True),
        # IPv4-translated
        ("::ffff:0:7f00:1", False),
        ("::ffff:0:a9fe:a9fe", False),
        ("::ffff:0:5db8:d70e", True),
        # NAT64, well-known prefix
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a00:1", False),
        ("64:ff9b::5db8:d70e", True),
        # NAT64, local-use prefix: its /96 form by its IPv4, any other layout refused
        ("64:ff9b:1::a00:1", False),
        ("64:ff9b:1::5db8:d70e", True),
        ("64:ff9b:1:5db8:d70e::", False),
        # 6to4
        ("2002:7f00:1::1", False),
        ("2002:a9fe:a9fe::1", False),
        ("2002:5db8:d70e::1", True),
        # Teredo: server IPv4, then the client IPv4 inverted in the last 32 bits
        ("2001:0:4136:e378::a247:28f1", True),  # server 65.54.227.120, client 93.184.215.14
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # client 192.0.2.45 (TEST-NET-1)
        ("2001:0:4136:e378::80ff:fffe", False),  # client 127.0.0.1
        ("2001:0:a00:1::a247:28f1", False),  # server 10.0.0.1
        # zone index
        ("fe80::1%eth0", False),
    ],
)
def test_the_guard_judges_what_an_address_reaches(address: str, allowed: bool) -> None:
    assert address_allowed(address) is allowed


def test_the_teredo_rows_of_the_table_are_what_they_say() -> None:
    """The table's Teredo addresses, read independently by ``ipaddress``."""
    assert IPv6Address("2001:0:4136:e378::a247:28f1").teredo == (
        IPv4Address("65.54.227.120"),
        IPv4Address("93.184.215.14"),
    )
    assert IPv6Address("2001:0:4136:e378::80ff:fffe").teredo[1] == IPv4Address("127.0.0.1")
    assert IPv6Address("2001:0:a00:1::a247:28f1").teredo[0] == IPv4Address("10.0.0.1")


def _public(v4: IPv4Address) -> bool:
    return v4.is_global and not v4.is_multicast


def _forms(v4: IPv4Address) -> list[IPv6Address]:
    n = int(v4)
    return [
        IPv6Address(0xFFFF << 32 | n),  # mapped
        IPv6Address(n),  # compatible (``::`` and ``::1`` are 0.0.0.0 and 0.0.0.1: refused)
        IPv6Address(0xFFFF0000 << 32 | n),  # translated
        IPv6Address(int(IPv6Address("64:ff9b::")) | n),
        IPv6Address(int(IPv6Address("64:ff9b:1::")) | n),
        IPv6Address(int(IPv6Address("2002::")) | n << 80 | 1),
    ]


ipv4s = st.integers(min_value=0, max_value=2**32 - 1).map(IPv4Address)


@settings(max_examples=500, deadline=None)
@given(ipv4s)
def test_every_ipv6_form_of_an_ipv4_is_judged_as_that_ipv4(v4: IPv4Address) -> None:
    assert address_allowed(str(v4)) is _public(v4)
    for v6 in _forms(v4):
        assert address_allowed(str(v6)) is _public(v4), v6


@settings(max_examples=300, deadline=None)
@given(ipv4s, ipv4s, st.integers(min_value=0, max_value=2**32 - 1))
def test_teredo_is_judged_by_both_its_server_and_its_client(
    server: IPv4Address, client: IPv4Address, middle: int
) -> None:
    teredo = IPv6Address(
        int(IPv6Address("2001::")) | int(server) << 64 | middle << 32 | (~int(client) & 0xFFFFFFFF)
    )
    assert teredo.teredo == (server, client)  # the layout, as ipaddress reads it
    assert address_allowed(str(teredo)) is (_public(server) and _public(client))


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"getaddrinfo called with {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize(
    "callback",
    [
        "https://sub.exam\rple/cb",
        "https://sub.exam\nple/cb",
        "https://sub.exam ple/cb",
        "https://sub.exam\x00ple/cb",
        "https://sub.exam%0d%0aple/cb",
        "https://sub.exam%00ple/cb",
        "https://" + "a" * 64 + ".example/cb",
        "https://" + "abc." * 64 + "example/cb",
        "https://sub..example/cb",
        "https://xn--a.example/cb",  # not a valid A-label
        "https://a_b.example/cb",
        "https://\u2603.example/cb",  # a symbol: disallowed by IDNA 2008
        "https://-abc.example/cb",
    ],
)
def test_bad_host_names_are_refused_without_dns(no_dns: None, callback: str) -> None:
    for allow_private in (False, True):
        problem = check_callback(callback, allow_private=allow_private)
        assert problem is not None and problem.startswith("hub.callback"), problem


def test_good_host_names_pass_without_dns(no_dns: None) -> None:
    for host in ("sub.example.com", "bücher.example", "xn--bcher-kva.example", "例え.jp"):
        assert host_problem(host) is None, host
        assert check_callback(f"https://{host}/cb", allow_private=False) is None


def test_the_web_worker_refuses_a_cr_lf_host_with_a_400_and_no_dns(
    site: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    site.settings["websub"] = {"builtin": True}
    config = site.config()
    build_site(config, NOW)
    client = create_app(config, FeedStore.for_config(config)).test_client()
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: pytest.fail(f"DNS for {a}"))
    form = {"hub.mode": "subscribe", "hub.topic": feed_url(config, "all.json")}
    for callback in ("https://a%0d%0ab.example/cb", "https://a\r\nb.example/cb"):
        resp = client.post("/websub", data={**form, "hub.callback": callback})
        assert resp.status_code == 400, resp.get_data(as_text=True)
    nat64 = client.post("/websub", data={**form, "hub.callback": "http://[64:ff9b::a9fe:a9fe]/"})
    assert nat64.status_code == 403
    good = client.post("/websub", data={**form, "hub.callback": "https://sub.example.com/cb"})
    assert good.status_code == 202  # a name is resolved by the builder, not here


@pytest.mark.parametrize(
    ("hosts", "same"),
    [
        (["127.0.0.1", "127.0.0.50", "127.0.0.255"], True),
        (["127.0.0.1", "127.0.1.1"], False),
        (["2001:db8:1::1", "2001:db8:1:ffff::2"], True),
        (["2001:db8:1::1", "2001:db8:2::1"], False),
        (["::ffff:10.1.2.3", "10.1.2.200"], True),
        (["a.example.co.uk", "b.example.co.uk", "example.co.uk", "x.y.EXAMPLE.co.uk."], True),
        (["a.example.co.uk", "a.other.co.uk"], False),
        (["alice.github.io", "bob.github.io"], False),  # a private suffix: two owners
        (["bücher.example", "xn--bcher-kva.example"], True),
    ],
)
def test_network_key_groups_by_network(hosts: list[str], same: bool) -> None:
    keys = {network_key(h) for h in hosts}
    assert (len(keys) == 1) is same, keys


def _limited_app(site: Any, per_host: int) -> tuple[Any, Any]:
    site.write_post("2025-11-01-first.md", post_text("First", 1))
    site.settings["websub"] = {
        "builtin": True,
        "allow_private_callbacks": True,
        "max_per_host": per_host,
    }
    config = site.config()
    build_site(config, NOW)
    return config, create_app(config, FeedStore.for_config(config)).test_client()


def test_max_per_host_counts_an_ipv4_slash_24_as_one(site: Any) -> None:
    config, client = _limited_app(site, 50)
    form = {"hub.mode": "subscribe", "hub.topic": feed_url(config, "all.json")}
    for i in range(1, 51):
        resp = client.post("/websub", data={**form, "hub.callback": f"http://127.0.0.{i}/cb"})
        assert resp.status_code == 202, (i, resp.get_data(as_text=True))
    over = client.post("/websub", data={**form, "hub.callback": "http://127.0.0.200/cb"})
    assert over.status_code == 429
    assert over.get_data(as_text=True) == "too many subscriptions for this callback network\n"
    other = client.post("/websub", data={**form, "hub.callback": "http://127.0.1.1/cb"})
    assert other.status_code == 202


def test_max_per_host_counts_a_registrable_domain_as_one(site: Any, no_dns: None) -> None:
    config, client = _limited_app(site, 1)
    form = {"hub.mode": "subscribe", "hub.topic": feed_url(config, "all.json")}
    first = client.post("/websub", data={**form, "hub.callback": "https://a.example.co.uk/cb"})
    assert first.status_code == 202
    second = client.post("/websub", data={**form, "hub.callback": "https://b.example.co.uk/cb"})
    assert second.status_code == 429
    other = client.post("/websub", data={**form, "hub.callback": "https://a.other.co.uk/cb"})
    assert other.status_code == 202
    # a repeat of the same pending request is not counted against itself
    again = client.post("/websub", data={**form, "hub.callback": "https://a.example.co.uk/cb"})
    assert again.status_code == 202


def test_ipaddress_agrees_on_what_the_table_calls_private() -> None:
    """The IPv4 inside each refused example of the issue is indeed not global."""
    for inside in ("169.254.169.254", "127.0.0.1", "10.0.0.1"):
        assert not ipaddress.ip_address(inside).is_global
