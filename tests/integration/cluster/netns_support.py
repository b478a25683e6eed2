"""Network namespaces the cluster test creates itself: one per storage node, joined by a bridge.

Layout (TAG is unique per test run, SUB a /24 of 10.213.0.0/16 that no interface of the machine uses):

    root namespace (the test, both gateways)      coffer-TAG-br (the bridge)         coffer-TAG-nI (node I)
    TAGh  10.213.SUB.1/24   <-- veth -->           TAGhb -+- br0 -+- TAGnIb  <-- veth -->  eth0 10.213.SUB.(10+I)/24

Every address is in the private range and on a veth this module created; deleting the namespaces
removes every veth pair with them (``destroy``). ``cut(i)``/``restore(i)`` set the bridge side of
node I's link down/up: packets to the node are dropped (no reset), as when a cable or switch port fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid


class NetnsUnavailable(Exception):
    """Namespaces cannot be made here (not root, no `ip`, or the kernel refuses)."""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


def unavailable_reason() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN)"
    probe = f"coffer-probe-{uuid.uuid4().hex[:6]}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` is refused here: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def _free_subnet() -> int:
    used = _ip("-4", "-o", "addr", "show").stdout + _ip("-4", "route", "show", "table", "all", check=False).stdout
    for sub in range(10, 250):
        if f"10.213.{sub}." not in used:
            return sub
    raise NetnsUnavailable("no free /24 in 10.213.0.0/16")


class Netns:
    def __init__(self) -> None:
        self.tag = "c" + uuid.uuid4().hex[:5]
        self.sub = _free_subnet()
        self.bridge_ns = f"coffer-{self.tag}-br"
        self.nodes: dict[int, str] = {}
        self.made: list[str] = []

    @property
    def host_address(self) -> str:
        return f"10.213.{self.sub}.1"

    def node_address(self, i: int) -> str:
        return f"10.213.{self.sub}.{10 + i}"

    def node_ns(self, i: int) -> str:
        return f"coffer-{self.tag}-n{i}"

    def create(self) -> None:
        try:
            _ip("netns", "add", self.bridge_ns)
            self.made.append(self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
            _ip("-n", self.bridge_ns, "link", "set", "lo", "up")
            host, peer = f"{self.tag}h", f"{self.tag}hb"
            _ip("link", "add", host, "type", "veth", "peer", "name", peer, "netns", self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "set", peer, "master", "br0", "up")
            _ip("addr", "add", f"{self.host_address}/24", "dev", host)
            _ip("link", "set", host, "up")
        except subprocess.CalledProcessError as exc:
            self.destroy()
            raise NetnsUnavailable(f"{' '.join(exc.cmd)}: {exc.stderr.strip()}") from exc

    def add_node(self, i: int) -> str:
        """Node I's namespace, linked to the bridge, with its address; returns the namespace name."""
        ns = self.node_ns(i)
        _ip("netns", "add", ns)
        self.made.append(ns)
        a, b = f"{self.tag}n{i}a", f"{self.tag}n{i}b"
        _ip("link", "add", a, "type", "veth", "peer", "name", b, "netns", self.bridge_ns)
        _ip("link", "set", a, "netns", ns)
        _ip("-n", ns, "link", "set", a, "name", "eth0")
        _ip("-n", ns, "addr", "add", f"{self.node_address(i)}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", self.bridge_ns, "link", "set", b, "master", "br0", "up")
        self.nodes[i] = ns
        return ns

    def cut(self, i: int) -> None:
        _ip("-n", self.bridge_ns, "link", "set", f"{self.tag}n{i}b", "down")

    def restore(self, i: int) -> None:
        _ip("-n", self.bridge_ns, "link", "set", f"{self.tag}n{i}b", "up")

    def destroy(self) -> None:
        # Deleting a namespace deletes the veths in it, and with them their peers (the root one too).
        for ns in reversed(self.made):
            _ip("netns", "del", ns, check=False)
        self.made.clear()
        _ip("link", "del", f"{self.tag}h", check=False)


__all__ = ["Netns", "NetnsUnavailable", "unavailable_reason"]
