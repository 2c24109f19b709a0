"""What a user agent says about the device behind a session: browser, OS and device,
parsed with ``ua-parser`` (the maintained port of the uap-core rules), and the *device
key* that tells a new device from a known one.

The key is the hash of the browser, OS and device *families* (no versions: a browser
update is not a new device). A client that sends no user agent, or one nobody can parse
(``python-httpx/0.27``), still gets a key of what it sent, without its version numbers.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

_VERSION = re.compile(r"[\d._]+")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    browser: str | None  # "Chrome 120", "Mobile Safari 17"
    os: str | None  # "Linux", "iOS 17.1"
    device: str | None  # "iPhone", None for a desktop ("Other")
    label: str  # what a person reads: "Chrome 120 on Linux"
    key: str | None  # see the module docstring


def _version(*parts: str | None) -> str:
    numbers = [part for part in parts if part]
    return ".".join(numbers)


@lru_cache(maxsize=1024)
def describe(user_agent: str | None) -> DeviceInfo:
    """The browser, OS and device a user agent names (cached: the same few come back)."""
    text = (user_agent or "").strip()[:255]
    if not text:
        return DeviceInfo(browser=None, os=None, device=None, label="Unknown device", key=None)
    result = parse(text)
    browser = os_name = device = None
    families: list[str] = []
    if result.user_agent is not None and result.user_agent.family != "Other":
        agent = result.user_agent
        browser = f"{agent.family} {_version(agent.major)}".strip()
        families.append(agent.family)
    if result.os is not None and result.os.family != "Other":
        os_name = f"{result.os.family} {_version(result.os.major, result.os.minor)}".strip()
        families.append(result.os.family)
    if result.device is not None and result.device.family not in ("Other", ""):
        device = result.device.family
        families.append(device)
    if browser and os_name:
        label = f"{browser} on {os_name}"
    elif browser or os_name:
        label = browser or os_name or ""
    else:
        # Not a browser: an API client such as "python-httpx/0.27.0" reads as "python-httpx".
        label = text.split("/")[0].split(" ")[0][:60] or "Unknown device"
        families.append(_VERSION.sub("", text))
    if device and device not in label:
        label = f"{label} ({device})"
    key = hashlib.sha256("\x1f".join(families).encode("utf-8", "replace")).hexdigest()
    return DeviceInfo(browser=browser, os=os_name, device=device, label=label, key=key)


def warm_up() -> None:
    """Load ua-parser's rules (a few hundred milliseconds of regex compiling, once per
    process): ``campus.main`` runs this in a worker thread at start-up, so the first
    sign-in does not stall the event loop."""
    describe("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0")
